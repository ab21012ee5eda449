package dev.locking.postgres;

import dev.locking.spi.Printable;
import java.sql.SQLException;
import java.util.Map;
import org.postgresql.util.PSQLException;
import org.postgresql.util.ServerErrorMessage;

/**
 * What PostgreSQL's refusals mean for a lock call, and what to do about each: one line that names
 * what the server said and its SQL state, then the remedy, with the page of the documentation that
 * explains it. A refusal at connect time reaches the provider as the cause HikariCP chains to its
 * "Connection is not available" timeout; one at call time as the statement's own error. pgjdbc's
 * message of a server error appends the context (for the lock functions, up to 1.7 KB of PL/pgSQL
 * source), so only the server's primary message is shown.
 */
final class PostgresErrors {

    /** The remedy for each SQL state named here, ending with the documentation that explains it. */
    private static final Map<String, String> ADVICE = Map.of(
            "53300",
            "the server has no connection slot left (max_connections, or the CONNECTION LIMIT of the role or the"
                    + " database). Lower pool.maximumPoolSize (it is per application instance, so count them all),"
                    + " or raise the limit; see docs/postgres.md#too-many-connections",
            "28P01",
            "the server refused the password of this user. Check the user and password options (or the password"
                    + " parameter of url); see docs/postgres.md#authentication-failed",
            "28000",
            "the server refused this user: the role does not exist, or pg_hba.conf has no entry for it from here."
                    + " Check the user option, and the server's pg_hba.conf; see docs/postgres.md#authentication-failed",
            "3D000",
            "the database named in url does not exist on this server. Check the database of url; see"
                    + " docs/postgres.md#database-does-not-exist",
            "42501",
            "the user lacks a privilege: CONNECT on the database, USAGE on the schema, or EXECUTE on the lock"
                    + " functions. Grant it, or run migrate as the schema's owner; see docs/postgres.md#permission-denied",
            "25006",
            "url reaches a server that only reads: a standby (a replica, or a primary demoted by a failover), or"
                    + " default_transaction_read_only is on for this user or database. Point url at the primary"
                    + " (targetServerType=primary picks it among several hosts); see docs/postgres.md#read-only",
            "53100",
            "the database server's disk is full. Free space on it (data or WAL volume); calls work again once"
                    + " there is room; see docs/postgres.md#disk-full",
            "53200",
            "the server ran out of shared memory for locks: each key of a call holds a lock until the call"
                    + " commits (in mode = \"session\", while the key is held or awaited). Take fewer keys per"
                    + " call, or raise the server's max_locks_per_transaction; see"
                    + " docs/postgres.md#out-of-shared-memory",
            "57P03",
            "the server is starting up, shutting down or in recovery. Calls work again once it accepts"
                    + " connections; see docs/postgres.md#no-connection");

    private PostgresErrors() {}

    /**
     * {@code what the server said (SQL state X): what to do}, or null when {@code e} is not a
     * refusal named here.
     */
    static String explain(SQLException e) {
        String advice = e.getSQLState() == null ? null : ADVICE.get(e.getSQLState());
        if (advice == null) return null;
        return serverText(e) + " (SQL state " + e.getSQLState() + "): " + advice + ".";
    }

    /**
     * The server's refusal behind a failed connection, or null when none of the causes of {@code e}
     * is one named here. HikariCP chains the refusal as the cause of its timeout and copies its SQL
     * state, so the deepest match is the server's own error.
     */
    static SQLException refusal(Throwable e) {
        SQLException found = null;
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause())
            if (t instanceof SQLException s && s.getSQLState() != null && ADVICE.containsKey(s.getSQLState()))
                found = s;
        return found;
    }

    /**
     * What the server (or the driver) said, in one line, escaped: the server's primary message
     * without the context pgjdbc appends; a key may appear in it.
     */
    static String serverText(SQLException e) {
        String text = null;
        if (e instanceof PSQLException p) {
            ServerErrorMessage server = p.getServerErrorMessage();
            if (server != null) text = server.getMessage();
        }
        if (text == null) text = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return Printable.escape(text.strip().lines().findFirst().orElse(""));
    }
}
