package dev.locking.spring.boot;

import dev.locking.api.LockOptions;
import dev.locking.api.LockingService;
import dev.locking.core.LockingModule;
import dev.locking.core.RunOncePerTick;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.aopalliance.intercept.MethodInterceptor;
import org.aopalliance.intercept.MethodInvocation;
import org.springframework.aop.framework.autoproxy.AbstractBeanFactoryAwareAdvisingPostProcessor;
import org.springframework.aop.support.AopUtils;
import org.springframework.aop.support.DefaultPointcutAdvisor;
import org.springframework.aop.support.annotation.AnnotationMatchingPointcut;
import org.springframework.beans.factory.BeanFactory;
import org.springframework.beans.factory.BeanInitializationException;
import org.springframework.beans.factory.SmartInitializingSingleton;
import org.springframework.beans.factory.config.ConfigurableBeanFactory;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.boot.convert.DurationStyle;
import org.springframework.core.BridgeMethodResolver;
import org.springframework.core.MethodIntrospector;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.AnnotatedElementUtils;
import org.springframework.core.annotation.AnnotationUtils;
import org.springframework.util.ClassUtils;

/**
 * Puts the methods annotated {@link LockedTick} under {@link RunOncePerTick}, by a Spring AOP proxy
 * around their bean (the mechanism of {@code @Async} and {@code @Validated}; no AspectJ).
 *
 * <p>It runs before Spring's {@code ScheduledAnnotationBeanPostProcessor} (a lower order), so the
 * scheduler registers the proxy's method and every tick goes through the lock; its advice is put
 * in front of advice already on the bean ({@code @Transactional}), so a tick's transaction commits
 * while the key is still held. The lock service is looked up at the first call, not when the
 * proxy is made: a post-processor that pulled the module in early would start it before the
 * application's database initialisation.
 */
final class LockedTickPostProcessor extends AbstractBeanFactoryAwareAdvisingPostProcessor
        implements SmartInitializingSingleton {
    private static final long serialVersionUID = 1L;

    /** One annotated method, its attributes resolved and checked. */
    record Tick(String name, Duration lockAtMost, Duration lockAtLeast, String provider) {}

    private final transient Map<Method, Tick> ticks = new ConcurrentHashMap<>();
    private transient volatile BeanFactory beanFactory;

    LockedTickPostProcessor() {
        // CGLIB: @Scheduled methods are rarely on an interface, and the scheduler calls the method
        // it found on the bean's class.
        setProxyTargetClass(true);
        setBeforeExistingAdvisors(true);
        setOrder(Ordered.LOWEST_PRECEDENCE - 10);
        this.advisor = new DefaultPointcutAdvisor(
                new AnnotationMatchingPointcut(null, LockedTick.class, true), new Interceptor());
    }

    @Override
    public void setBeanFactory(BeanFactory beanFactory) {
        super.setBeanFactory(beanFactory);
        this.beanFactory = beanFactory;
    }

    /** Checks every annotated method of the bean before it is proxied, so a bad one stops the start. */
    @Override
    public Object postProcessAfterInitialization(Object bean, String beanName) {
        Class<?> type = ClassUtils.getUserClass(AopUtils.getTargetClass(bean));
        if (!AnnotationUtils.isCandidateClass(type, LockedTick.class))
            return super.postProcessAfterInitialization(bean, beanName);
        Map<Method, LockedTick> annotated =
                MethodIntrospector.selectMethods(type, (MethodIntrospector.MetadataLookup<LockedTick>)
                        method -> AnnotatedElementUtils.findMergedAnnotation(method, LockedTick.class));
        annotated.forEach((method, annotation) -> ticks.put(method, resolve(beanName, method, annotation)));
        if (!annotated.isEmpty()) destroyBeforeTheLockService(beanName);
        return super.postProcessAfterInitialization(bean, beanName);
    }

    /**
     * The bean reaches the lock service only through the proxy, at its first call, so Spring sees no
     * dependency and could close the module while the bean's scheduled ticks still fire. Declared
     * here, the bean is destroyed first, and the scheduler cancels its ticks on that.
     */
    private void destroyBeforeTheLockService(String beanName) {
        if (!(beanFactory instanceof ConfigurableListableBeanFactory factory)) return;
        for (Class<?> type : List.of(RunOncePerTick.class, LockingService.class))
            for (String service : factory.getBeanNamesForType(type, true, false))
                if (!service.equals(beanName)) factory.registerDependentBean(service, beanName);
    }

    private Tick resolve(String beanName, Method method, LockedTick annotation) {
        String where = "@LockedTick on " + method.getDeclaringClass().getName() + "." + method.getName() + " (bean "
                + beanName + "): ";
        int modifiers = method.getModifiers();
        if (Modifier.isPrivate(modifiers) || Modifier.isStatic(modifiers) || Modifier.isFinal(modifiers))
            throw new BeanInitializationException(
                    where + "the method must not be private, static or final; the lock is added by a proxy");
        if (method.getReturnType() != void.class)
            throw new BeanInitializationException(
                    where + "the method must return void; an instance that skips the tick has no value to return");
        if (method.getParameterCount() != 0)
            throw new BeanInitializationException(where + "the method must take no arguments");
        String name = text(annotation.name());
        if (name.isBlank()) throw new BeanInitializationException(where + "name must not be blank");
        Duration atMost = duration(where, "lockAtMostFor", annotation.lockAtMostFor());
        Duration atLeast = duration(where, "lockAtLeastFor", annotation.lockAtLeastFor());
        if (atMost.isZero() || atMost.isNegative())
            throw new BeanInitializationException(where + "lockAtMostFor must be positive, was " + atMost);
        if (atLeast.isNegative())
            throw new BeanInitializationException(where + "lockAtLeastFor must be zero or positive, was " + atLeast);
        if (atLeast.compareTo(atMost) > 0)
            throw new BeanInitializationException(
                    where + "lockAtLeastFor (" + atLeast + ") must not be longer than lockAtMostFor (" + atMost + ")");
        return new Tick(name, atMost, atLeast, text(annotation.provider()).strip());
    }

    private Duration duration(String where, String attribute, String value) {
        String text = text(value).strip();
        try {
            return DurationStyle.detectAndParse(text);
        } catch (IllegalArgumentException e) {
            throw new BeanInitializationException(
                    where + attribute + " \"" + text + "\" is not a duration (30s, 10m, PT30S, or milliseconds)", e);
        }
    }

    /** The value with its {@code ${...}} placeholders resolved. */
    private String text(String value) {
        if (beanFactory instanceof ConfigurableBeanFactory configurable) {
            String resolved = configurable.resolveEmbeddedValue(value);
            return resolved == null ? "" : resolved;
        }
        return value;
    }

    /** A registration a {@code @LockedTick} names must exist: checked once the module can be asked. */
    @Override
    public void afterSingletonsInstantiated() {
        if (beanFactory == null) return;
        LockingService locking =
                beanFactory.getBeanProvider(LockingService.class).getIfUnique();
        if (!(locking instanceof LockingModule module)) return;
        ticks.forEach((method, tick) -> {
            if (tick.provider().isEmpty()) return;
            try {
                module.providerFor(LockOptions.defaults().provider(tick.provider()));
            } catch (RuntimeException e) {
                throw new BeanInitializationException(
                        "@LockedTick on " + method.getDeclaringClass().getName() + "." + method.getName()
                                + ": provider \"" + tick.provider() + "\": " + e.getMessage(),
                        e);
            }
        });
    }

    private final class Interceptor implements MethodInterceptor {
        private final Map<String, RunOncePerTick> byProvider = new ConcurrentHashMap<>();

        @Override
        public Object invoke(MethodInvocation invocation) throws Throwable {
            Tick tick = tickOf(invocation);
            Throwable[] failure = new Throwable[1];
            runner(tick.provider()).run(tick.name(), tick.lockAtMost(), tick.lockAtLeast(), () -> {
                try {
                    invocation.proceed();
                } catch (Throwable t) {
                    failure[0] = t;
                }
            });
            if (failure[0] != null) throw failure[0];
            return null;
        }

        private Tick tickOf(MethodInvocation invocation) {
            Method method = invocation.getMethod();
            Tick tick = ticks.get(method);
            if (tick != null) return tick;
            Class<?> target = invocation.getThis() == null
                    ? method.getDeclaringClass()
                    : ClassUtils.getUserClass(AopUtils.getTargetClass(invocation.getThis()));
            Method specific = BridgeMethodResolver.findBridgedMethod(AopUtils.getMostSpecificMethod(method, target));
            tick = ticks.get(specific);
            if (tick != null) return tick;
            LockedTick annotation = AnnotatedElementUtils.findMergedAnnotation(specific, LockedTick.class);
            if (annotation == null) throw new IllegalStateException("no @LockedTick on " + specific);
            return ticks.computeIfAbsent(specific, m -> resolve(target.getName(), m, annotation));
        }

        private RunOncePerTick runner(String provider) {
            return byProvider.computeIfAbsent(provider, p -> {
                RunOncePerTick runOncePerTick = beanFactory.getBean(RunOncePerTick.class);
                return p.isEmpty() ? runOncePerTick : runOncePerTick.in(p);
            });
        }
    }
}
