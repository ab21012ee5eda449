package dev.locking.postgres;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import javax.net.SocketFactory;

/**
 * The socket of the LISTEN connection: a plain TCP socket on which "is anything more pending?" is
 * answered at once instead of after a millisecond.
 *
 * <p>pgjdbc's {@code getNotifications(timeout)} returns the notifications it read only after it has
 * asked whether more are pending, and it asks with a blocking read under a 1 ms socket timeout (its
 * {@code PGStream.hasMessagePending}). Every NOTIFY therefore reached the listener about 1.1 ms after
 * it arrived, measured on loopback: most of a hand-over between processes. A 1 ms timeout is used
 * for nothing else (pgjdbc's own timeouts are whole seconds), so on this socket a read under it
 * with no byte received yet fails at once with the timeout pgjdbc expects; a byte in flight is read
 * by the next {@code getNotifications} call instead, as if it had arrived a moment later.
 *
 * <p>pgjdbc instantiates the class by name from its {@code socketFactory} property, so it must be
 * public with a public no-argument constructor. A connection that turns out to be TLS or GSS
 * encrypted is not kept on this socket (see {@code PostgresLockingProvider.openListening}): there a
 * read can fall inside an encrypted record, which a read cut short should not split.
 */
public final class ListenerSocketFactory extends SocketFactory {
    /** The socket timeout pgjdbc sets only to ask whether a message is pending. */
    static final int PROBE_TIMEOUT_MILLIS = 1;

    public ListenerSocketFactory() {}

    @Override
    public Socket createSocket() {
        return new PromptSocket();
    }

    @Override
    public Socket createSocket(String host, int port) throws IOException {
        return connected(new InetSocketAddress(host, port));
    }

    @Override
    public Socket createSocket(String host, int port, InetAddress localHost, int localPort) throws IOException {
        Socket s = new PromptSocket();
        s.bind(new InetSocketAddress(localHost, localPort));
        s.connect(new InetSocketAddress(host, port));
        return s;
    }

    @Override
    public Socket createSocket(InetAddress host, int port) throws IOException {
        return connected(new InetSocketAddress(host, port));
    }

    @Override
    public Socket createSocket(InetAddress address, int port, InetAddress localAddress, int localPort)
            throws IOException {
        Socket s = new PromptSocket();
        s.bind(new InetSocketAddress(localAddress, localPort));
        s.connect(new InetSocketAddress(address, port));
        return s;
    }

    private static Socket connected(InetSocketAddress address) throws IOException {
        Socket s = new PromptSocket();
        s.connect(address);
        return s;
    }

    /** A socket whose reads under the probe timeout never wait. */
    static final class PromptSocket extends Socket {
        private volatile int timeout;
        private InputStream input;

        @Override
        public synchronized void setSoTimeout(int millis) throws SocketException {
            super.setSoTimeout(millis);
            timeout = millis;
        }

        @Override
        public synchronized InputStream getInputStream() throws IOException {
            if (input == null) input = new Prompt(super.getInputStream());
            return input;
        }

        private final class Prompt extends FilterInputStream {
            Prompt(InputStream in) {
                super(in);
            }

            private void probe() throws IOException {
                if (timeout == PROBE_TIMEOUT_MILLIS && in.available() == 0)
                    throw new SocketTimeoutException("nothing pending");
            }

            @Override
            public int read() throws IOException {
                probe();
                return in.read();
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                probe();
                return in.read(b, off, len);
            }
        }
    }
}
