package dev.locking.spring.boot;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * The {@code locking} properties: the same tree as the HOCON {@code locking} block core reads,
 * bound with Spring's relaxed binding ({@code is-default}, {@code is_default}, {@code isDefault},
 * environment variables such as {@code LOCKING_PROVIDERS_0_ISDEFAULT}). What is set here wins over
 * {@code application.conf}; what is not set is read from there and from the jars' {@code
 * reference.conf}, where every default lives (so no field here has a default of its own).
 */
@ConfigurationProperties("locking")
public class LockingProperties {

    /** The registrations; not set: {@code locking.providers} of application.conf, else in-memory alone. */
    private List<Provider> providers;

    private final Execute execute = new Execute();

    /** Apply every provider's migrations when the module starts; default false. */
    private Boolean migrateOnStart;

    /** Threads renewing execute leases; default 2. */
    private Integer renewalThreads;

    /**
     * On shutdown, how long the jobs under way (execute, run-once ticks) get to end and release
     * their keys before the module closes; default 30s.
     */
    private Duration shutdownTimeout;

    /**
     * Release the keys of an {@code execute} called inside an active Spring transaction after
     * that transaction ends, not when the job returns; default true. See docs/spring-boot.md.
     */
    private boolean releaseAfterCommit = true;

    public List<Provider> getProviders() {
        return providers;
    }

    public void setProviders(List<Provider> providers) {
        this.providers = providers;
    }

    public Execute getExecute() {
        return execute;
    }

    public Boolean getMigrateOnStart() {
        return migrateOnStart;
    }

    public void setMigrateOnStart(Boolean migrateOnStart) {
        this.migrateOnStart = migrateOnStart;
    }

    public Integer getRenewalThreads() {
        return renewalThreads;
    }

    public void setRenewalThreads(Integer renewalThreads) {
        this.renewalThreads = renewalThreads;
    }

    public Duration getShutdownTimeout() {
        return shutdownTimeout;
    }

    public void setShutdownTimeout(Duration shutdownTimeout) {
        this.shutdownTimeout = shutdownTimeout;
    }

    public boolean isReleaseAfterCommit() {
        return releaseAfterCommit;
    }

    public void setReleaseAfterCommit(boolean releaseAfterCommit) {
        this.releaseAfterCommit = releaseAfterCommit;
    }

    /** One entry of {@code locking.providers}. */
    public static class Provider {
        /** The provider identifier: in-memory, locking-postgres, locking-redis. */
        private String resolve;

        /** The registration's id; calls address it as lp_&lt;id&gt;. Default: the resolve value. */
        private String id;

        /** Whether calls that name no provider use this registration. */
        private Boolean isDefault;

        /** The provider's own options (see its jar's reference.conf); locking-postgres without url uses the application's DataSource. */
        private Map<String, Object> options = new LinkedHashMap<>();

        public String getResolve() {
            return resolve;
        }

        public void setResolve(String resolve) {
            this.resolve = resolve;
        }

        public String getId() {
            return id;
        }

        public void setId(String id) {
            this.id = id;
        }

        public Boolean getIsDefault() {
            return isDefault;
        }

        public void setIsDefault(Boolean isDefault) {
            this.isDefault = isDefault;
        }

        public Map<String, Object> getOptions() {
            return options;
        }

        public void setOptions(Map<String, Object> options) {
            this.options = options;
        }
    }

    /** Defaults of {@code execute} calls that set no timeout or expire. */
    public static class Execute {
        /** How long execute waits for its keys; default 5s. */
        private Duration timeout;

        /** execute's lease, renewed every third of it; default 60s. */
        private Duration expire;

        public Duration getTimeout() {
            return timeout;
        }

        public void setTimeout(Duration timeout) {
            this.timeout = timeout;
        }

        public Duration getExpire() {
            return expire;
        }

        public void setExpire(Duration expire) {
            this.expire = expire;
        }
    }
}
