package dev.locking.testkit.faults;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A TCP proxy on a free loopback port in front of a real server, that breaks the network on
 * command, as the faults of production do: a reply lost after the server acted on the request, a
 * slow network, a half-open connection (a partition: bytes are accepted and go nowhere, the
 * sockets stay open), connections reset or closed, a server that refuses connections, and a
 * failover that points the address at another server. Point the client under test at {@link
 * #host()}:{@link #port()}.
 *
 * <p>Each accepted connection is a {@link Link}: the client's socket, a socket to the target, and
 * one thread per direction. Faults apply to every open link and to links opened later, until
 * {@link #heal()}; a single link can be broken on its own, and {@link #mark()} with {@link
 * #linksOpenedAfter(long)} picks the connections a test opened after a point.
 *
 * <p>A half-open link holds what it read instead of dropping it, as TCP would keep retransmitting
 * through a partition: when the network heals, the held bytes go through, so a request sent
 * during the partition may still reach the server after its client gave up. Close the proxy (or
 * let the JVM exit) to stop its threads and sockets.
 */
public final class FaultyProxy implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(FaultyProxy.class);
    private static final int CHUNK = 64 * 1024;

    /** How {@link #cutAll(Cut)} ends a connection. */
    public enum Cut {
        /** A TCP reset (RST): the peer's next read or write fails at once, as after a crash or a firewall. */
        RESET,
        /** An orderly close (FIN): the peer reads end of stream, as when a server closes an idle connection. */
        CLOSE
    }

    private final String name;
    private final ServerSocket listener;
    private final Thread acceptor;
    private final List<Link> links = new CopyOnWriteArrayList<>();
    private final AtomicLong opened = new AtomicLong();
    private final AtomicInteger repliesLost = new AtomicInteger();
    private final Object state = new Object();
    private volatile InetSocketAddress target;
    private volatile boolean closed;

    // Proxy-wide faults, guarded by state.
    private boolean partitioned;
    private boolean refusing;
    private Duration replyDelay = Duration.ZERO;
    private LostReply lostReply;

    private record LostReply(byte[] requestContains, int remaining, boolean thenDown) {}

    private FaultyProxy(String name, InetSocketAddress target) throws IOException {
        this.name = name;
        this.target = target;
        this.listener = new ServerSocket(0, 200, InetAddress.getLoopbackAddress());
        this.acceptor = new Thread(this::acceptLoop, "faulty-proxy-" + name + "-accept");
        this.acceptor.setDaemon(true);
        this.acceptor.start();
        Runtime.getRuntime().addShutdownHook(new Thread(this::close, "faulty-proxy-" + name + "-close"));
    }

    /**
     * Starts a proxy on a free loopback port that forwards to {@code host:port}.
     *
     * @param name a short name for its threads and log lines, e.g. "postgres"
     */
    public static FaultyProxy start(String name, String host, int port) {
        try {
            FaultyProxy proxy = new FaultyProxy(name, new InetSocketAddress(host, port));
            log.info("Faulty proxy {} on 127.0.0.1:{} -> {}:{}", name, proxy.port(), host, port);
            return proxy;
        } catch (IOException e) {
            throw new UncheckedIOException("Could not open the faulty proxy's listening socket", e);
        }
    }

    /** The address clients use: always the loopback address. */
    public String host() {
        return "127.0.0.1";
    }

    /** The proxy's port, chosen free at start. */
    public int port() {
        return listener.getLocalPort();
    }

    /** Where new connections go now. */
    public InetSocketAddress target() {
        return target;
    }

    /**
     * Points new connections at another server and resets every open one, as a failover does to
     * clients behind a virtual IP or a DNS name: the address stays, the server behind it changes.
     */
    public void retarget(String host, int port) {
        target = new InetSocketAddress(host, port);
        log.info("Faulty proxy {}: now forwards to {}:{}", name, host, port);
        cutAll(Cut.RESET);
    }

    // ------------------------------------------------------------------ faults on every link

    /**
     * The next {@code count} replies to requests whose bytes contain {@code requestContains} (a
     * key, a function name; UTF-8) are lost: the request reaches the server, which acts on it and
     * answers, and the answer is dropped. The link is then reset, since its byte stream can no
     * longer be trusted, as a connection that died after the server committed.
     */
    public void loseNextReplies(String requestContains, int count) {
        armLostReply(requestContains, count, false);
    }

    /**
     * Loses the next reply to a request containing {@code requestContains}, as {@link
     * #loseNextReplies}, and then goes down: every link is reset and new connections are refused
     * until {@link #heal()}, so the client's retry fails too. The server committed; the client
     * knows only that its call failed.
     */
    public void loseNextReplyThenGoDown(String requestContains) {
        armLostReply(requestContains, 1, true);
    }

    private void armLostReply(String requestContains, int count, boolean thenDown) {
        if (requestContains == null || requestContains.isEmpty())
            throw new IllegalArgumentException("requestContains must not be empty");
        if (count < 1) throw new IllegalArgumentException("count must be at least 1");
        synchronized (state) {
            lostReply = new LostReply(requestContains.getBytes(StandardCharsets.UTF_8), count, thenDown);
        }
    }

    /** Holds every reply (server to client) for {@code delay} before passing it on; {@code ZERO} ends it. */
    public void delayReplies(Duration delay) {
        if (delay == null || delay.isNegative()) throw new IllegalArgumentException("delay must not be negative");
        synchronized (state) {
            replyDelay = delay;
        }
    }

    /**
     * A partition: every open link and every new one accepts bytes from both sides and passes
     * none on, while the sockets stay open, so each side sees a half-open connection that neither
     * answers nor fails. New connections are accepted (the client's connect succeeds) and never
     * answered. {@link #heal()} ends it, and what was held goes through.
     */
    public void blackHole() {
        synchronized (state) {
            partitioned = true;
            state.notifyAll();
        }
        log.info("Faulty proxy {}: black hole", name);
    }

    /** Resets or closes every open link; new connections still go through. */
    public void cutAll(Cut how) {
        for (Link link : links) link.cut(how);
    }

    /**
     * Down: resets every open link and refuses new connections (accepted, then reset at once), as
     * a server host that went away, until {@link #heal()}.
     */
    public void goDown() {
        synchronized (state) {
            refusing = true;
        }
        cutAll(Cut.RESET);
        log.info("Faulty proxy {}: down", name);
    }

    /**
     * Ends every proxy-wide fault: no partition, no delay, no armed lost reply, connections
     * accepted. Links that were held by a partition pass on what they held; links already cut
     * stay cut.
     */
    public void heal() {
        synchronized (state) {
            partitioned = false;
            refusing = false;
            replyDelay = Duration.ZERO;
            lostReply = null;
            state.notifyAll();
        }
        for (Link link : links) link.heal();
        log.info("Faulty proxy {}: healed", name);
    }

    // ------------------------------------------------------------------ links

    /** The number of connections accepted so far; pass it to {@link #linksOpenedAfter(long)}. */
    public long mark() {
        return opened.get();
    }

    /** The links open now. */
    public List<Link> links() {
        return links.stream().filter(Link::isOpen).toList();
    }

    /** The links open now that were accepted after {@code mark}. */
    public List<Link> linksOpenedAfter(long mark) {
        return links.stream().filter(l -> l.isOpen() && l.number() > mark).toList();
    }

    /** How many replies {@link #loseNextReplies} and {@link #loseNextReplyThenGoDown} dropped so far. */
    public int repliesLost() {
        return repliesLost.get();
    }

    /** How many connections were accepted so far. */
    public long connectionsAccepted() {
        return opened.get();
    }

    /**
     * Waits until {@code condition} holds, up to {@code limit}, and fails with {@code what}
     * otherwise; for tests that wait for a fault to take effect.
     */
    public static void await(BooleanSupplier condition, Duration limit, String what) {
        long deadline = System.nanoTime() + limit.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline)
                throw new AssertionError("Gave up after " + limit + " waiting for " + what);
            sleep(10);
        }
    }

    private void acceptLoop() {
        while (!closed) {
            Socket client;
            try {
                client = listener.accept();
            } catch (IOException e) {
                if (!closed) log.warn("Faulty proxy {}: accept failed: {}", name, e.toString());
                return;
            }
            long number = opened.incrementAndGet();
            boolean refuse;
            synchronized (state) {
                refuse = refusing;
            }
            if (refuse) {
                reset(client);
                continue;
            }
            try {
                client.setTcpNoDelay(true);
                Socket upstream = new Socket();
                upstream.setTcpNoDelay(true);
                upstream.connect(target, 5_000);
                Link link = new Link(number, client, upstream);
                links.add(link);
                link.start();
            } catch (IOException e) {
                // The target is down: the client sees its connection reset, as it would connecting to it.
                log.debug("Faulty proxy {}: target {} refused: {}", name, target, e.toString());
                reset(client);
            }
        }
    }

    /** Stops accepting, resets every link and stops every thread of the proxy. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        try {
            listener.close();
        } catch (IOException e) {
            // Closing anyway.
        }
        synchronized (state) {
            state.notifyAll();
        }
        for (Link link : links) link.cut(Cut.RESET);
        try {
            acceptor.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String toString() {
        return "FaultyProxy{" + name + " 127.0.0.1:" + listener.getLocalPort() + " -> " + target + "}";
    }

    private static void reset(Socket socket) {
        try {
            socket.setSoLinger(true, 0);
        } catch (SocketException e) {
            // Closed already.
        }
        closeQuietly(socket);
    }

    private static void closeQuietly(Socket socket) {
        try {
            socket.close();
        } catch (IOException e) {
            // Nothing left to do.
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * One proxied connection: client socket, target socket, and a thread per direction. It can be
     * broken on its own, whatever the proxy-wide faults.
     */
    public final class Link {
        private final long number;
        private final Socket client;
        private final Socket upstream;
        private final Object linkState = new Object();
        private final AtomicLong bytesUp = new AtomicLong(), bytesDown = new AtomicLong();
        private volatile boolean open = true;
        private boolean linkPartitioned;
        /** What the client sent since the server last answered: where a lost reply's request is looked for. */
        private final java.io.ByteArrayOutputStream pendingRequest = new java.io.ByteArrayOutputStream();

        private Link(long number, Socket client, Socket upstream) {
            this.number = number;
            this.client = client;
            this.upstream = upstream;
        }

        private void start() {
            Thread up = new Thread(() -> pump(client, upstream, true), "faulty-proxy-" + name + "-" + number + "-up");
            Thread down =
                    new Thread(() -> pump(upstream, client, false), "faulty-proxy-" + name + "-" + number + "-down");
            up.setDaemon(true);
            down.setDaemon(true);
            up.start();
            down.start();
        }

        /** The order in which the proxy accepted it, from 1. */
        public long number() {
            return number;
        }

        public boolean isOpen() {
            return open;
        }

        /** Bytes passed from the client to the server so far. */
        public long bytesToServer() {
            return bytesUp.get();
        }

        /** Bytes passed from the server to the client so far. */
        public long bytesToClient() {
            return bytesDown.get();
        }

        /** Makes this link half-open (see {@link FaultyProxy#blackHole()}) until {@link #heal()}. */
        public void blackHole() {
            synchronized (linkState) {
                linkPartitioned = true;
            }
        }

        /** Ends this link's own partition; what it held goes through. */
        public void heal() {
            synchronized (linkState) {
                linkPartitioned = false;
            }
            synchronized (state) {
                state.notifyAll();
            }
        }

        /** Resets or closes both sides of this link. */
        public void cut(Cut how) {
            if (!open) return;
            open = false;
            if (how == Cut.RESET) {
                reset(client);
                reset(upstream);
            } else {
                closeQuietly(client);
                closeQuietly(upstream);
            }
            links.remove(this);
            synchronized (state) {
                state.notifyAll();
            }
        }

        private boolean held() {
            synchronized (linkState) {
                return linkPartitioned || partitioned;
            }
        }

        /** Blocks while a partition holds this link; false when the link or the proxy closed meanwhile. */
        private boolean awaitPassable() {
            synchronized (state) {
                while (open && !closed && held()) {
                    try {
                        state.wait(50);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return false;
                    }
                }
            }
            return open && !closed;
        }

        private void pump(Socket from, Socket to, boolean towardsServer) {
            byte[] buffer = new byte[CHUNK];
            try {
                InputStream in = from.getInputStream();
                OutputStream out = to.getOutputStream();
                while (open) {
                    int n = in.read(buffer);
                    if (n < 0) {
                        // End of stream: pass the close on once any partition lets it through.
                        if (awaitPassable()) to.shutdownOutput();
                        return;
                    }
                    if (!awaitPassable()) return;
                    if (towardsServer) {
                        synchronized (pendingRequest) {
                            pendingRequest.write(buffer, 0, n);
                        }
                        out.write(buffer, 0, n);
                        out.flush();
                        bytesUp.addAndGet(n);
                    } else {
                        if (loseIfArmed()) return;
                        Duration delay;
                        synchronized (state) {
                            delay = replyDelay;
                        }
                        if (!delay.isZero()) sleep(delay.toMillis());
                        if (!awaitPassable()) return;
                        out.write(buffer, 0, n);
                        out.flush();
                        bytesDown.addAndGet(n);
                    }
                }
            } catch (IOException e) {
                // A reset or close on either side: end the link as a whole.
            } finally {
                if (open) cut(Cut.CLOSE);
            }
        }

        /** True when this reply is the one a test asked to lose: dropped, and the link reset. */
        private boolean loseIfArmed() {
            byte[] request;
            synchronized (pendingRequest) {
                request = pendingRequest.toByteArray();
                pendingRequest.reset();
            }
            boolean goDown;
            synchronized (state) {
                if (lostReply == null || !contains(request, lostReply.requestContains())) return false;
                goDown = lostReply.thenDown();
                lostReply = lostReply.remaining() > 1
                        ? new LostReply(lostReply.requestContains(), lostReply.remaining() - 1, goDown)
                        : null;
                if (goDown) refusing = true;
            }
            repliesLost.incrementAndGet();
            log.info("Faulty proxy {}: lost a reply on link {}{}", name, number, goDown ? ", and went down" : "");
            if (goDown) goDown();
            else cut(Cut.RESET);
            return true;
        }
    }

    static boolean contains(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) if (haystack[i + j] != needle[j]) continue outer;
            return true;
        }
        return false;
    }

    /** For diagnostics: a line per open link. */
    public List<String> describeLinks() {
        List<String> lines = new ArrayList<>();
        for (Link link : links)
            lines.add("link " + link.number() + ": " + link.bytesToServer() + " B up, " + link.bytesToClient()
                    + " B down" + (link.held() ? ", held" : ""));
        return lines;
    }
}
