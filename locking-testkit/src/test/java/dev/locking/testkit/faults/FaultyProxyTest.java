package dev.locking.testkit.faults;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The proxy against a line server of the test's own: it records every line it receives (what the
 * "server did") and answers each with {@code ok <line>}.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class FaultyProxyTest {
    private LineServer server;
    private FaultyProxy proxy;

    @BeforeEach
    void start() throws IOException {
        server = new LineServer("s1");
        proxy = FaultyProxy.start("test", "127.0.0.1", server.port());
    }

    @AfterEach
    void stop() throws IOException {
        proxy.close();
        server.close();
    }

    @Test
    @DisplayName("bytes pass both ways while nothing is broken")
    void passesRequestsAndReplies() throws IOException {
        try (Client c = new Client(proxy.port())) {
            assertEquals("ok s1 hello", c.ask("hello"));
            assertEquals("ok s1 again", c.ask("again"));
        }
        assertEquals(List.of("hello", "again"), server.received);
    }

    @Test
    @DisplayName("a lost reply: the server got the request, the client gets no answer and a reset connection")
    void lostReplyReachesTheServerButNotTheClient() throws IOException {
        try (Client c = new Client(proxy.port())) {
            assertEquals("ok s1 before", c.ask("before"));
            proxy.loseNextReplies("take k1", 1);
            assertEquals("ok s1 other", c.ask("other"), "a request that does not match passes");
            c.send("take k1");
            assertThrows(IOException.class, c::readLine, "the reply never arrives; the connection is reset");
        }
        FaultyProxy.await(() -> server.received.contains("take k1"), Duration.ofSeconds(5), "the request");
        assertEquals(1, proxy.repliesLost());
        try (Client c = new Client(proxy.port())) {
            assertEquals("ok s1 take k1", c.ask("take k1"), "only the next reply was lost");
        }
    }

    @Test
    @DisplayName("a lost reply then down: the retry's connection is refused until heal")
    void lostReplyThenDownRefusesTheRetry() throws IOException {
        try (Client c = new Client(proxy.port())) {
            proxy.loseNextReplyThenGoDown("take k1");
            c.send("take k1");
            assertThrows(IOException.class, c::readLine);
        }
        try (Client retry = new Client(proxy.port())) {
            retry.send("take k1");
            assertThrows(IOException.class, retry::readLineOrFail, "refused while down");
        }
        assertEquals(1, server.count("take k1"), "the retry never reached the server");
        proxy.heal();
        try (Client c = new Client(proxy.port())) {
            assertEquals("ok s1 after", c.ask("after"));
        }
    }

    @Test
    @DisplayName("delayed replies arrive, later")
    void delayedRepliesArriveLater() throws IOException {
        try (Client c = new Client(proxy.port())) {
            proxy.delayReplies(Duration.ofMillis(400));
            long start = System.nanoTime();
            assertEquals("ok s1 slow", c.ask("slow"));
            assertTrue(Duration.ofNanos(System.nanoTime() - start).toMillis() >= 400, "the reply was held");
            proxy.delayReplies(Duration.ZERO);
            assertEquals("ok s1 fast", c.ask("fast"));
        }
    }

    @Test
    @DisplayName("a black hole accepts bytes and answers nothing, on open and new connections; heal lets them through")
    void blackHoleHoldsTrafficUntilHealed() throws IOException {
        try (Client open = new Client(proxy.port())) {
            assertEquals("ok s1 warm", open.ask("warm"));
            proxy.blackHole();
            open.send("during");
            open.socket.setSoTimeout(500);
            assertThrows(SocketTimeoutException.class, open::readLine, "no answer, no error: half-open");
            try (Client fresh = new Client(proxy.port())) {
                fresh.send("fresh");
                fresh.socket.setSoTimeout(300);
                assertThrows(SocketTimeoutException.class, fresh::readLine, "a new connection hangs too");
            }
            assertFalse(server.received.contains("during"), "nothing reached the server");
            proxy.heal();
            open.socket.setSoTimeout(5_000);
            assertEquals("ok s1 during", open.readLine(), "what was held went through");
        }
    }

    @Test
    @DisplayName("a cut resets or closes every open connection; new ones still work")
    void cutResetsOrClosesOpenConnections() throws IOException {
        try (Client reset = new Client(proxy.port())) {
            assertEquals("ok s1 a", reset.ask("a"));
            proxy.cutAll(FaultyProxy.Cut.RESET);
            assertThrows(SocketException.class, reset::readLine, "a reset fails the next read");
        }
        long mark = proxy.mark();
        try (Client closed = new Client(proxy.port())) {
            assertEquals("ok s1 b", closed.ask("b"), "new connections still work");
            proxy.linksOpenedAfter(mark).forEach(l -> l.cut(FaultyProxy.Cut.CLOSE));
            assertEquals(null, closed.readLine(), "a close is an end of stream");
        }
    }

    @Test
    @DisplayName("only the connections opened after a mark are broken")
    void faultsCanTargetConnectionsOpenedAfterAMark() throws IOException {
        try (Client before = new Client(proxy.port())) {
            assertEquals("ok s1 one", before.ask("one"));
            long mark = proxy.mark();
            try (Client after = new Client(proxy.port())) {
                assertEquals("ok s1 two", after.ask("two"));
                List<FaultyProxy.Link> later = proxy.linksOpenedAfter(mark);
                assertEquals(1, later.size());
                later.get(0).blackHole();
                after.send("three");
                after.socket.setSoTimeout(300);
                assertThrows(SocketTimeoutException.class, after::readLine);
                assertEquals("ok s1 four", before.ask("four"), "the earlier connection is untouched");
            }
        }
    }

    @Test
    @DisplayName("retarget sends new connections to another server and resets the open ones")
    void retargetMovesTheAddressToAnotherServer() throws IOException {
        try (LineServer second = new LineServer("s2");
                Client c = new Client(proxy.port())) {
            assertEquals("ok s1 x", c.ask("x"));
            proxy.retarget("127.0.0.1", second.port());
            assertThrows(IOException.class, () -> c.ask("y"));
            try (Client fresh = new Client(proxy.port())) {
                assertEquals("ok s2 z", fresh.ask("z"));
            }
        }
    }

    @Test
    @DisplayName("a closed proxy accepts nothing")
    void closedProxyAcceptsNothing() {
        int port = proxy.port();
        proxy.close();
        assertThrows(IOException.class, () -> {
            try (Client c = new Client(port)) {
                c.ask("x");
            }
        });
    }

    /** A line client with a 5 s read timeout, so a broken proxy fails the test instead of hanging it. */
    private static final class Client implements AutoCloseable {
        final Socket socket;
        private final OutputStream out;
        private final InputStream in;

        Client(int port) throws IOException {
            socket = new Socket(InetAddress.getLoopbackAddress(), port);
            socket.setSoTimeout(5_000);
            out = socket.getOutputStream();
            in = socket.getInputStream();
        }

        void send(String line) throws IOException {
            out.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
        }

        String ask(String line) throws IOException {
            send(line);
            String reply = readLine();
            if (reply == null) throw new IOException("end of stream");
            return reply;
        }

        String readLine() throws IOException {
            StringBuilder sb = new StringBuilder();
            while (true) {
                int b = in.read();
                if (b < 0) return sb.length() == 0 ? null : sb.toString();
                if (b == '\n') return sb.toString();
                sb.append((char) b);
            }
        }

        /** A read that treats end of stream as the failure it is for a refused connection. */
        String readLineOrFail() throws IOException {
            String line = readLine();
            if (line == null) throw new IOException("end of stream");
            return line;
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    /** Answers each line with "ok <name> <line>" and records it. */
    private static final class LineServer implements AutoCloseable {
        final List<String> received = new CopyOnWriteArrayList<>();
        private final ServerSocket socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        private final String name;

        LineServer(String name) throws IOException {
            this.name = name;
            Thread t = new Thread(this::accept, "line-server-" + name);
            t.setDaemon(true);
            t.start();
        }

        int port() {
            return socket.getLocalPort();
        }

        long count(String line) {
            return received.stream().filter(line::equals).count();
        }

        private void accept() {
            while (!socket.isClosed()) {
                try {
                    Socket s = socket.accept();
                    Thread t = new Thread(() -> serve(s));
                    t.setDaemon(true);
                    t.start();
                } catch (IOException e) {
                    return;
                }
            }
        }

        private void serve(Socket s) {
            try (s) {
                InputStream in = s.getInputStream();
                OutputStream out = s.getOutputStream();
                StringBuilder line = new StringBuilder();
                int b;
                while ((b = in.read()) >= 0) {
                    if (b != '\n') {
                        line.append((char) b);
                        continue;
                    }
                    received.add(line.toString());
                    out.write(("ok " + name + " " + line + "\n").getBytes(StandardCharsets.UTF_8));
                    out.flush();
                    line.setLength(0);
                }
            } catch (IOException e) {
                // The proxy cut the connection.
            }
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }
}
