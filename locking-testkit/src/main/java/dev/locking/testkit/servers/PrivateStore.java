package dev.locking.testkit.servers;

/** A server process of the test's own ({@link PrivatePostgres}, {@link PrivateRedis}) that a fault test may break. */
public interface PrivateStore extends AutoCloseable {

    String host();

    int port();

    /** The clock the server runs on; fails when it was started without a {@link FakeClock}. */
    FakeClock clock();

    /** Stops the process and deletes its directory. */
    @Override
    void close();
}
