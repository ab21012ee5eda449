/**
 * Session mode's multiplexing, for any store whose locks are locks of a server session (PostgreSQL's
 * session-level advisory locks; MySQL's and MariaDB's {@code GET_LOCK} would be another): a small
 * set of the provider's own sessions ({@code SessionSet}), the process's table of held keys, lease
 * timers, keepalives, and the loss of a session and its report ({@link dev.locking.session.SessionLocks}).
 * A store implements {@link dev.locking.session.SessionStore}: opening a session with an idle
 * timeout, a keepalive, one round trip to take keys and one to free them.
 *
 * <p>Nothing here depends on PostgreSQL; only locking-api and SLF4J. It lives in the
 * locking-postgres jar while PostgreSQL is its only user, and can move to locking-api (as {@code
 * dev.locking.spi.session}) unchanged when a second store needs it.
 */
package dev.locking.session;
