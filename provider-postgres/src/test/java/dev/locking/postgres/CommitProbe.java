package dev.locking.postgres;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.sql.DataSource;

/**
 * A DataSource over a real pool whose connections, when committed, first record the lock function
 * the transaction called and the {@code synchronous_commit} it is about to commit with (read with
 * {@code SHOW} on the same connection, in the same transaction). Everything else goes straight to
 * the real connection.
 */
final class CommitProbe {
    private static final Pattern FUNCTION = Pattern.compile("(locking_[a-z_]+)\\(");

    private CommitProbe() {}

    static DataSource wrap(DataSource real, List<String> commits) {
        return (DataSource) Proxy.newProxyInstance(
                CommitProbe.class.getClassLoader(), new Class<?>[] {DataSource.class}, (proxy, method, args) -> {
                    Object result = invoke(real, method, args);
                    return result instanceof Connection c ? connection(c, commits) : result;
                });
    }

    private static Connection connection(Connection real, List<String> commits) {
        String[] lastFunction = {null};
        InvocationHandler handler = (proxy, method, args) -> {
            if (method.getName().equals("prepareStatement") && args != null && args[0] instanceof String sql) {
                Matcher m = FUNCTION.matcher(sql);
                lastFunction[0] = m.find() ? m.group(1) : null;
            }
            if (method.getName().equals("commit") && lastFunction[0] != null) {
                try (Statement st = real.createStatement();
                        ResultSet rs = st.executeQuery("SHOW synchronous_commit")) {
                    rs.next();
                    commits.add(lastFunction[0] + " " + rs.getString(1));
                }
                lastFunction[0] = null;
            }
            return invoke(real, method, args);
        };
        return (Connection)
                Proxy.newProxyInstance(CommitProbe.class.getClassLoader(), new Class<?>[] {Connection.class}, handler);
    }

    private static Object invoke(Object target, Method method, Object[] args) throws Throwable {
        try {
            return method.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }
}
