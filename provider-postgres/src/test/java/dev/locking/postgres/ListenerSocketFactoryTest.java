package dev.locking.postgres;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.locking.testkit.servers.PostgresServer;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;

/**
 * The LISTEN connection's socket: pgjdbc's "anything more pending?" probe is answered at once, and
 * nothing else about reading changes: no notification is lost or reordered, and reads under any
 * other timeout wait as before.
 */
class ListenerSocketFactoryTest {
    private static final PostgresServer server = PostgresServer.shared();

    @Test
    @DisplayName("a read under the 1 ms probe timeout with nothing received fails at once; other reads wait")
    void probeFailsAtOnceOtherReadsWait() throws Exception {
        try (ServerSocket listening = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
                Socket client = new ListenerSocketFactory()
                        .createSocket(InetAddress.getLoopbackAddress(), listening.getLocalPort());
                Socket peer = listening.accept()) {
            InputStream in = client.getInputStream();
            OutputStream out = peer.getOutputStream();

            client.setSoTimeout(ListenerSocketFactory.PROBE_TIMEOUT_MILLIS);
            assertThrows(SocketTimeoutException.class, in::read, "nothing received: the probe says so");

            out.write(7);
            out.flush();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (in.available() == 0 && System.nanoTime() < deadline) Thread.sleep(1);
            assertEquals(7, in.read(), "a byte that arrived is read under the probe timeout");

            // Any other timeout: the read waits for data, as a plain socket's does.
            client.setSoTimeout(10_000);
            Thread writer = new Thread(() -> {
                try {
                    Thread.sleep(50);
                    out.write(9);
                    out.flush();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            writer.start();
            assertEquals(9, in.read(), "a read under a 10 s timeout waited for the byte");
            writer.join();

            // And its own timeout still ends it.
            client.setSoTimeout(20);
            assertThrows(SocketTimeoutException.class, in::read);
        }
    }

    @Test
    @DisplayName("LISTEN on the prompt socket receives every notification, in order, bursts included")
    void everyNotificationArrivesInOrder() throws Exception {
        Properties props = credentials();
        try (Connection listener = PostgresLockingProvider.openListening(
                        server.jdbcUrl(), props, ListenerSocketFactory.class.getName());
                Connection sender = server.dataSource().getConnection()) {
            assertNotNull(listener);
            try (Statement st = listener.createStatement()) {
                st.execute("LISTEN listener_socket_test");
            }
            List<String> sent = new ArrayList<>();
            sender.setAutoCommit(false);
            try (Statement st = sender.createStatement()) {
                // A burst committed at once, then notifications one transaction each.
                for (int i = 0; i < 200; i++) {
                    st.execute("SELECT pg_notify('listener_socket_test', 'burst-" + i + "')");
                    sent.add("burst-" + i);
                }
                sender.commit();
                for (int i = 0; i < 50; i++) {
                    st.execute("SELECT pg_notify('listener_socket_test', 'single-" + i + "')");
                    sender.commit();
                    sent.add("single-" + i);
                }
            } finally {
                sender.setAutoCommit(true);
            }
            List<String> received = new ArrayList<>();
            PGConnection pg = listener.unwrap(PGConnection.class);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (received.size() < sent.size() && System.nanoTime() < deadline) {
                PGNotification[] batch = pg.getNotifications(500);
                if (batch != null) for (PGNotification n : batch) received.add(n.getParameter());
            }
            assertEquals(sent, received);
            try (Statement st = listener.createStatement();
                    ResultSet rs = st.executeQuery("SELECT 1")) {
                assertTrue(rs.next(), "the connection still runs statements");
            }
        }
    }

    @Test
    @DisplayName("where pgjdbc cannot load the socket factory, LISTEN opens on its default socket")
    void unloadableFactoryFallsBackToTheDefaultSocket() throws SQLException {
        SQLException direct = assertThrows(SQLException.class, () -> {
            Properties props = credentials();
            props.setProperty("socketFactory", "dev.locking.postgres.NoSuchFactory");
            new org.postgresql.Driver().connect(server.jdbcUrl(), props);
        });
        assertInstanceOf(ClassNotFoundException.class, direct.getCause(), "what pgjdbc reports: " + direct);
        try (Connection c = PostgresLockingProvider.openListening(
                        server.jdbcUrl(), credentials(), "dev.locking.postgres.NoSuchFactory");
                Statement st = c.createStatement();
                ResultSet rs = st.executeQuery("SELECT 1")) {
            assertTrue(rs.next());
        }
    }

    @Test
    @DisplayName(
            "once the server agrees to TLS or GSS encryption, or a direct TLS handshake starts, reads pass through")
    void encryptionTurnsThePromptProbeOff() throws Exception {
        int ssl = 80877103, gss = 80877104, startup = 196608;
        assertFalse(promptAfter(request(ssl), 'S'), "SSLRequest answered S: TLS follows");
        assertTrue(promptAfter(request(ssl), 'N'), "SSLRequest refused: the session stays plain");
        assertFalse(promptAfter(request(gss), 'G'), "GSSENCRequest answered G: GSS encryption follows");
        assertTrue(promptAfter(request(gss), 'N'), "GSSENCRequest refused");
        assertFalse(promptAfter(new byte[] {0x16, 0x03, 0x01, 0x00, 0x10}, 'x'), "a direct TLS ClientHello");
        assertTrue(
                promptAfter(
                        java.nio.ByteBuffer.allocate(8)
                                .putInt(8)
                                .putInt(startup)
                                .array(),
                        'R'),
                "a plain start-up message, whatever the reply");
    }

    /** Whether the socket still answers the probe at once after writing {@code first} and reading {@code reply}. */
    private static boolean promptAfter(byte[] first, char reply) throws Exception {
        try (ServerSocket listening = new ServerSocket(0, 1, InetAddress.getLoopbackAddress());
                Socket client = new ListenerSocketFactory()
                        .createSocket(InetAddress.getLoopbackAddress(), listening.getLocalPort());
                Socket peer = listening.accept()) {
            OutputStream out = client.getOutputStream();
            out.write(first, 0, 3); // in two writes, as a buffered stream may send it
            out.write(first, 3, first.length - 3);
            out.flush();
            byte[] got = peer.getInputStream().readNBytes(first.length);
            assertEquals(first.length, got.length);
            peer.getOutputStream().write(reply);
            peer.getOutputStream().flush();
            assertEquals(reply, client.getInputStream().read());
            return ((ListenerSocketFactory.PromptSocket) client).prompt();
        }
    }

    private static byte[] request(int code) {
        return java.nio.ByteBuffer.allocate(8).putInt(8).putInt(code).array();
    }

    private static Properties credentials() {
        Properties props = new Properties();
        if (server.user() != null) props.setProperty("user", server.user());
        if (server.password() != null) props.setProperty("password", server.password());
        return props;
    }
}
