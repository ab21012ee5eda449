package dev.locking.redis;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * A Lua script from a resource file next to this class, with the SHA-1 Redis knows it by. The SHA
 * is computed here, so the script is sent to a server only when that server answers NOSCRIPT.
 */
record LuaScript(String name, String source, String sha) {

    static final LuaScript ACQUIRE = load("acquire.lua");
    static final LuaScript RELEASE = load("release.lua");
    static final LuaScript UNDO = load("undo.lua");
    static final LuaScript RENEW = load("renew.lua");
    static final LuaScript LEAVE_QUEUE = load("leave-queue.lua");
    static final LuaScript ROLLBACK = load("rollback.lua");
    static final LuaScript ENQUEUE = load("enqueue.lua");
    static final LuaScript INDEX_ADD = load("index-add.lua");
    static final LuaScript INDEX_REMOVE = load("index-remove.lua");
    static final LuaScript LIST = load("list.lua");
    static final LuaScript REFRESH_WAITERS = load("refresh-waiters.lua");

    static LuaScript load(String resource) {
        try (InputStream in = LuaScript.class.getResourceAsStream(resource)) {
            if (in == null) throw new IllegalStateException("Missing resource " + resource + " next to LuaScript");
            String source = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            byte[] digest = MessageDigest.getInstance("SHA-1").digest(source.getBytes(StandardCharsets.UTF_8));
            return new LuaScript(resource, source, HexFormat.of().formatHex(digest));
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read " + resource, e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("The JDK has no SHA-1", e);
        }
    }

    @Override
    public String toString() {
        return name + "@" + sha;
    }
}
