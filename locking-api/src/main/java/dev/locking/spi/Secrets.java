package dev.locking.spi;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Keeps passwords out of log lines, exception messages and {@code toString}: the one masking of
 * connection URLs every provider uses.
 *
 * <p>{@link #redactUrl} masks what a driver would read as a password and keeps the rest, so a
 * message still says which server it is about. It errs towards masking too much: a password may
 * hold characters that end a URL's parts ({@code @ / ? # ; &}) without being encoded, and a URL
 * that is read one way by a driver may be read another way by a person.
 */
public final class Secrets {
    /** What a masked secret reads as. */
    public static final String MASK = "<masked>";

    /**
     * A parameter whose name holds "password" ({@code password}, {@code sslpassword}, ...), up to
     * the next {@code &}: pgjdbc ends a parameter's value there only, so a {@code #} or {@code ;}
     * inside it belongs to the password.
     */
    private static final Pattern PASSWORD_PARAMETER = Pattern.compile("(?i)([?&;][^=&;#/?]*password=)[^&]*");

    /** A host name or address with an optional numeric port, or several of them separated by commas. */
    private static final Pattern HOSTS = Pattern.compile(
            "((\\[[0-9A-Fa-f:.]+]|[A-Za-z0-9._%~-]*)(:[0-9]*)?)(,(\\[[0-9A-Fa-f:.]+]|[A-Za-z0-9._%~-]*)(:[0-9]*)?)*");

    private Secrets() {}

    /**
     * {@code url} with the password of a {@code user:password@} before the host, and the value of
     * every parameter whose name holds "password", replaced by {@value #MASK}; null for null.
     *
     * <p>The text from after {@code //} to the last {@code @} of the URL counts as {@code
     * user:password} unless the text up to the first {@code / ? #} after {@code //} is a plain
     * {@code host[:port][,host[:port]...]}: then an {@code @} further on is in the path or the
     * query, as in {@code ?user=app@corp}. The user name before the first {@code :} is kept.
     */
    public static String redactUrl(CharSequence url) {
        if (url == null) return null;
        String text = url.toString();
        int authority = text.indexOf("//");
        int at = text.lastIndexOf('@');
        if (authority >= 0 && at > authority) {
            int start = authority + 2;
            int end = start;
            while (end < text.length() && "/?#".indexOf(text.charAt(end)) < 0) end++;
            if (!HOSTS.matcher(text.substring(start, end)).matches()) {
                int colon = text.indexOf(':', start);
                int secretStart = colon >= 0 && colon < at ? colon + 1 : start;
                text = text.substring(0, secretStart) + MASK + text.substring(at);
            }
        }
        return PASSWORD_PARAMETER.matcher(text).replaceAll("$1" + Matcher.quoteReplacement(MASK));
    }

    /**
     * True when {@code text} may carry a credential ({@code user:password@}, {@code password=}):
     * a value that a message must not show as it is.
     */
    public static boolean mayHoldCredentials(CharSequence text) {
        if (text == null) return false;
        String s = text.toString();
        return s.indexOf('@') >= 0 || s.toLowerCase(Locale.ROOT).contains("password");
    }
}
