package dev.locking.postgres;

import java.io.FilterInputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import javax.net.SocketFactory;

/**
 * The socket of the LISTEN connection: a plain TCP socket on which "is anything more pending?" is
 * answered at once instead of after a millisecond.
 *
 * <p>pgjdbc's {@code getNotifications(timeout)} returns the notifications it read only after it has
 * asked whether more are pending, and it asks with a blocking read under a 1 ms socket timeout (its
 * {@code PGStream.hasMessagePending}, which looks at {@code available()} first). Every NOTIFY
 * therefore reached the listener about 1.1 ms after it arrived, measured on loopback: most of a
 * hand-over between processes. On this socket a read under a 1 ms timeout with no byte received
 * yet fails at once with the timeout pgjdbc expects, before reading anything; a byte in flight is
 * read by the next {@code getNotifications} call instead, as if it had arrived a moment later.
 * pgjdbc's other timeouts are seconds, or fail the same way a real 1 ms timeout would.
 *
 * <p>Once the connection negotiates TLS or GSS encryption (the client's SSLRequest or GSSENCRequest
 * answered "S" or "G", or a direct TLS handshake), reads pass straight through: a read there can
 * fall inside an encrypted record, which a read cut short should not split.
 *
 * <p>pgjdbc instantiates the class by name from its {@code socketFactory} property, so it must be
 * public with a public no-argument constructor.
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

    /** A socket whose reads under the probe timeout never wait, until encryption is negotiated. */
    static final class PromptSocket extends Socket {
        /** The protocol codes of PostgreSQL's SSLRequest and GSSENCRequest. */
        private static final int SSL_REQUEST = 80877103;

        private static final int GSSENC_REQUEST = 80877104;
        /** A TLS record of type handshake: a direct TLS connection starts with it. */
        private static final int TLS_HANDSHAKE = 0x16;

        private volatile int timeout;
        private volatile boolean encrypted;
        private volatile boolean encryptionRequested;
        /** The first bytes the client wrote: an encryption request is the first message, 8 bytes. */
        private final byte[] start = new byte[8];

        private int started;
        private InputStream input;
        private OutputStream output;

        /** True while reads under the probe timeout fail at once (no encryption negotiated). */
        boolean prompt() {
            return !encrypted;
        }

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

        @Override
        public synchronized OutputStream getOutputStream() throws IOException {
            if (output == null) output = new Watch(super.getOutputStream());
            return output;
        }

        /** Reads; the probe timeout fails at once on a plain connection with nothing received. */
        private final class Prompt extends FilterInputStream {
            Prompt(InputStream in) {
                super(in);
            }

            private void probe() throws IOException {
                if (!encrypted && timeout == PROBE_TIMEOUT_MILLIS && in.available() == 0)
                    throw new SocketTimeoutException("nothing pending");
            }

            private void answered(int first) {
                if (encryptionRequested) {
                    encryptionRequested = false;
                    if (first == 'S' || first == 'G') encrypted = true;
                }
            }

            @Override
            public int read() throws IOException {
                probe();
                int b = in.read();
                if (b >= 0) answered(b);
                return b;
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                probe();
                int n = in.read(b, off, len);
                if (n > 0) answered(b[off]);
                return n;
            }
        }

        /** Writes; watches the start of the stream for a request to encrypt it. */
        private final class Watch extends FilterOutputStream {
            Watch(OutputStream out) {
                super(out);
            }

            private void seen(byte[] b, int off, int len) {
                if (started >= start.length) return;
                if (started == 0 && len > 0 && (b[off] & 0xff) == TLS_HANDSHAKE) encrypted = true;
                int take = Math.min(len, start.length - started);
                System.arraycopy(b, off, start, started, take);
                started += take;
                if (started == start.length) {
                    ByteBuffer first = ByteBuffer.wrap(start);
                    int length = first.getInt();
                    int code = first.getInt();
                    if (length == 8 && (code == SSL_REQUEST || code == GSSENC_REQUEST)) encryptionRequested = true;
                }
            }

            @Override
            public void write(int b) throws IOException {
                seen(new byte[] {(byte) b}, 0, 1);
                out.write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                seen(b, off, len);
                out.write(b, off, len);
            }
        }
    }
}
