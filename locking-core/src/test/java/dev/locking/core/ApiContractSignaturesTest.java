package dev.locking.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import dev.locking.api.Lease;
import dev.locking.api.LockAcquisitionException;
import dev.locking.api.LockContext;
import dev.locking.api.LockLostException;
import dev.locking.api.LockOptions;
import dev.locking.api.LockTimeoutException;
import dev.locking.api.LockedJob;
import dev.locking.api.LockingConfigurationException;
import dev.locking.api.LockingException;
import dev.locking.api.LockingService;
import dev.locking.api.UnknownProviderException;
import java.io.IOException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Every name and signature of shared/API.md, used as outside code would use it. */
class ApiContractSignaturesTest {

    @Test
    void lockingModuleHasTheEntryPointsOfTheContract() throws Exception {
        assertTrue(Modifier.isFinal(LockingModule.class.getModifiers()));
        assertTrue(LockingService.class.isAssignableFrom(LockingModule.class));
        assertTrue(AutoCloseable.class.isAssignableFrom(LockingModule.class));
        assertStatic(LockingModule.class.getMethod("create"), LockingModule.class);
        assertStatic(LockingModule.class.getMethod("create", Config.class), LockingModule.class);
        assertStatic(LockingModule.class.getMethod("builder"), LockingModule.Builder.class);
        assertEquals(List.class, LockingModule.class.getMethod("providers").getReturnType());
        assertEquals(void.class, LockingModule.class.getMethod("migrate").getReturnType());
        assertEquals(void.class, LockingModule.class.getMethod("close").getReturnType());
        LockingModule.Builder builder = LockingModule.builder()
                .config(ConfigFactory.empty())
                .dataSource("in-memory", new dev.locking.core.fixtures.NoDataSource());
        try (LockingModule module = builder.build()) {
            List<ProviderInfo> infos = module.providers();
            assertEquals(1, infos.size());
        }
    }

    private static void assertStatic(Method m, Class<?> returns) {
        assertTrue(Modifier.isStatic(m.getModifiers()) && Modifier.isPublic(m.getModifiers()), m.toString());
        assertEquals(returns, m.getReturnType(), m.toString());
    }

    @Test
    void theServiceCompilesAsTheContractWritesIt() throws IOException {
        try (LockingModule module = LockingModule.create(ConfigFactory.empty())) {
            LockingService service = module;
            LockOptions o = LockOptions.defaults()
                    .owner("o")
                    .expire(Duration.ofSeconds(5))
                    .timeout(Duration.ZERO)
                    .provider("lp_in-memory");
            String a = service.execute("k", lock -> "a");
            Integer b = service.execute("k", lock -> 1, o);
            Long c = service.execute((Collection<String>) List.of("k", "j"), lock -> 2L, o);
            // A checked exception passes through execute's type parameter X.
            IOException thrown = assertThrows(
                    IOException.class,
                    () -> service.execute("k", lock -> {
                        throw new IOException("x");
                    }));
            assertEquals("x", thrown.getMessage());
            LockedJob<String, RuntimeException> job = (LockContext lock) -> {
                List<String> keys = lock.keys();
                String owner = lock.owner();
                long token = lock.fencingToken("k");
                boolean lost = lock.isLost();
                return keys + owner + token + lost;
            };
            service.execute("k", job);

            Lease l1 = service.acquire("k1");
            Lease l2 = service.acquire("k2", o);
            Lease l3 = service.acquire(List.of("k3", "k4"), o);
            List<String> keys = l3.keys();
            Optional<String> owner = l2.owner();
            long token = l2.fencingToken("k2");
            Optional<Instant> expiresAt = l2.expiresAt();
            String provider = l1.provider();
            boolean r1 = service.release("k1");
            boolean r2 = service.release("k2", o);
            boolean r3 = service.release(List.of("k3", "k4"), o);
            int n = service.releaseAll(o);
            assertEquals("a1", a + b);
            assertEquals(2L, c);
            assertTrue(r1 && r2 && r3 && n == 0 && token > 0 && keys.size() == 2);
            assertEquals(Optional.of("o"), owner);
            assertTrue(expiresAt.isPresent());
            assertEquals("lp_in-memory", provider);
        }
    }

    @Test
    void exceptionsAreUncheckedAndNested() {
        for (Class<?> c : List.of(
                LockAcquisitionException.class,
                LockTimeoutException.class,
                LockLostException.class,
                UnknownProviderException.class,
                LockingConfigurationException.class))
            assertTrue(LockingException.class.isAssignableFrom(c), c.getName());
        assertTrue(RuntimeException.class.isAssignableFrom(LockingException.class));
        assertTrue(LockAcquisitionException.class.isAssignableFrom(LockTimeoutException.class));
        assertEquals("Failed to acquire lock for key \"k\"", new LockAcquisitionException("k").getMessage());
        assertEquals("Timed-out acquiring lock.", new LockTimeoutException("k").getMessage());
        assertTrue(Modifier.isFinal(LockOptions.class.getModifiers()));
    }
}
