package dev.locking.cli;

import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Refuses command-line arguments the JVM could not decode. The launcher decodes {@code argv} in
 * the locale's charset ({@code sun.jnu.encoding}, which {@code -D} cannot change). Under the
 * C/POSIX locale of cron, systemd or {@code env -i} that is ASCII, and every byte it cannot decode
 * becomes U+FFFD: {@code café} arrives as {@code caf\uFFFD\uFFFD}, and {@code inv\xff} and {@code
 * inv\xfe} arrive as the same key, so a release could free a lock it never named. U+FFFD typed on
 * purpose cannot be told from a failed decoding, so an argument holding it is refused too.
 */
final class UndecodableArguments {
    static final char REPLACEMENT = '\uFFFD';

    private UndecodableArguments() {}

    /**
     * A sentence naming the first argument of {@code args} that holds U+FFFD (the option it is the
     * value of, or its position) and what to do, or empty when every argument decoded.
     */
    static Optional<String> problem(CommandSpec root, String[] args) {
        CommandSpec command = root;
        boolean positionalOnly = false;
        String valueOf = null; // the option whose value the next argument is
        for (int i = 0; i < args.length; i++) {
            String arg = args[i];
            String shown = arg;
            String what;
            if (valueOf != null) {
                what = "the value of " + valueOf;
                valueOf = null;
            } else if (!positionalOnly && arg.equals("--")) {
                positionalOnly = true;
                continue;
            } else if (!positionalOnly && arg.startsWith("-") && arg.length() > 1) {
                int equals = arg.indexOf('=');
                String name = equals < 0 ? arg : arg.substring(0, equals);
                OptionSpec option = command.findOption(name);
                if (option != null && equals < 0 && option.arity().max() > 0) valueOf = name;
                what = "argument " + (i + 1);
                if (option != null && equals >= 0) {
                    what = "the value of " + name;
                    shown = arg.substring(equals + 1);
                }
            } else if (!positionalOnly && command.subcommands().containsKey(arg)) {
                command = command.subcommands().get(arg).getCommandSpec();
                continue;
            } else {
                what = "argument " + (i + 1);
            }
            if (arg.indexOf(REPLACEMENT) >= 0) return Optional.of(sentence(what, shown));
        }
        return Optional.empty();
    }

    /** The problem with {@code value} of the environment variable {@code name}, or empty. */
    static Optional<String> problemWithVariable(String name, String value) {
        if (value == null || value.indexOf(REPLACEMENT) < 0) return Optional.empty();
        return Optional.of(sentence("$" + name, value));
    }

    private static String sentence(String what, String value) {
        String charset =
                System.getProperty("sun.jnu.encoding", Charset.defaultCharset().name());
        String shown = Terminal.text(value).replace(String.valueOf(REPLACEMENT), "\\uFFFD");
        boolean utf8 = Charset.isSupported(charset) && Charset.forName(charset).equals(StandardCharsets.UTF_8);
        if (utf8)
            return what + " (\"" + shown + "\") is not valid UTF-8: a byte the JVM could not decode became U+FFFD"
                    + " (U+FFFD itself is refused too, as the two cannot be told apart), and two different keys"
                    + " would become the same lock. Pass it as valid UTF-8; see"
                    + " docs/cli.md#arguments-that-did-not-decode";
        return what + " (\"" + shown + "\") did not decode: the JVM decodes the command line in the locale's"
                + " charset, " + charset + " here (LANG, LC_ALL and LC_CTYPE unset, C or POSIX), and each byte it"
                + " cannot decode became U+FFFD, so two different keys would become the same lock. Run it under a"
                + " UTF-8 locale: LC_ALL=C.UTF-8 locking ... (bin/locking does that itself under the C locale;"
                + " -Dsun.jnu.encoding does not change how the JVM decodes its arguments); see"
                + " docs/cli.md#arguments-that-did-not-decode";
    }
}
