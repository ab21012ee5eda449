package dev.locking.api;

import java.io.IOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.Executable;
import java.lang.reflect.Field;
import java.lang.reflect.GenericDeclaration;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The public and protected surface of locking-api as text: a line per exported type (unindented),
 * then a line per constructor, method and field it declares (indented), each with its modifiers and
 * its type parameters, parameter, return and thrown types. Types are sorted by name, members by
 * name and then signature, so the text changes only when the surface does, and a change reads as a
 * diff.
 */
final class ApiSignature {
    static final String UPDATE_PROPERTY = "locking.api.update";
    static final String UPDATE_COMMAND =
            "mvn -B -q verify -pl locking-api -Dtest=ApiSignatureTest -D" + UPDATE_PROPERTY + "=true";
    static final String HEADER = String.join(
            "\n",
            "# The public and protected surface of locking-api (dev.locking.api, dev.locking.spi): every",
            "# exported type, and the constructors, methods and fields it declares, with their parameter,",
            "# return and thrown types. ApiSignatureTest regenerates it from the compiled classes and fails",
            "# when it differs. To change the surface: name each changed type or member (`LockOptions`,",
            "# `LockingProvider.release`) in CHANGELOG.md's [Unreleased] section, then, from the root:",
            "#   " + UPDATE_COMMAND,
            "");

    private static final String INDENT = "    ";
    private static final int TYPE_MODIFIERS =
            Modifier.PUBLIC | Modifier.PROTECTED | Modifier.ABSTRACT | Modifier.STATIC | Modifier.FINAL;
    private static final int MEMBER_MODIFIERS =
            Modifier.PUBLIC | Modifier.PROTECTED | Modifier.ABSTRACT | Modifier.STATIC | Modifier.FINAL;

    /** One line of the signature, with the type it belongs to (its own name, for a type's line). */
    record Entry(String type, String line) {
        boolean isType() {
            return !line.startsWith(INDENT);
        }

        /** The name a changelog uses for it: {@code AcquireResult.Blocked}, {@code LockOptions.expire}. */
        String name() {
            String typeName = simpleName(type);
            if (isType()) return typeName;
            String member = line.strip();
            int paren = member.indexOf('(');
            String head = paren < 0 ? member : member.substring(0, paren);
            String token = head.substring(head.lastIndexOf(' ') + 1);
            String ownSimpleName = typeName.substring(typeName.lastIndexOf('.') + 1);
            return paren >= 0 && token.equals(ownSimpleName) ? typeName : typeName + "." + token;
        }
    }

    private ApiSignature() {}

    /** The signature of every exported type compiled under {@code classes} (a directory or a jar). */
    static List<Entry> of(Path classes, ClassLoader loader) throws IOException {
        List<Class<?>> types = new ArrayList<>();
        if (Files.isDirectory(classes)) {
            collect(classes, loader, types);
        } else {
            try (FileSystem jar = FileSystems.newFileSystem(classes)) {
                collect(jar.getPath("/"), loader, types);
            }
        }
        types.sort((a, b) -> a.getCanonicalName().compareTo(b.getCanonicalName()));
        List<Entry> entries = new ArrayList<>();
        for (Class<?> type : types) {
            String name = type.getCanonicalName();
            entries.add(new Entry(name, typeLine(type)));
            Set<String> members = new TreeSet<>();
            for (Constructor<?> c : type.getDeclaredConstructors())
                if (exported(c.getModifiers()) && !c.isSynthetic()) members.add(executable(type, c, null));
            for (Method m : type.getDeclaredMethods())
                if (exported(m.getModifiers()) && !m.isSynthetic() && !m.isBridge())
                    members.add(executable(type, m, m.getGenericReturnType()));
            for (Field f : type.getDeclaredFields())
                if (exported(f.getModifiers()) && !f.isSynthetic())
                    members.add(modifiers(f.getModifiers(), MEMBER_MODIFIERS) + typeName(f.getGenericType()) + " "
                            + f.getName());
            // By name, then by signature: a type's overloads stand together.
            members.stream()
                    .map(member -> new Entry(name, INDENT + member))
                    .sorted(Comparator.comparing(Entry::name).thenComparing(Entry::line))
                    .forEach(entries::add);
        }
        return entries;
    }

    private static void collect(Path root, ClassLoader loader, List<Class<?>> types) throws IOException {
        try (Stream<Path> files = Files.walk(root)) {
            for (Path file : (Iterable<Path>) files::iterator) {
                String relative = root.relativize(file).toString().replace('\\', '/');
                if (!relative.endsWith(".class")
                        || relative.endsWith("module-info.class")
                        || relative.endsWith("package-info.class")) continue;
                String binaryName = relative.substring(0, relative.length() - ".class".length())
                        .replace('/', '.');
                try {
                    Class<?> type = Class.forName(binaryName, false, loader);
                    if (exported(type)) types.add(type);
                } catch (ClassNotFoundException e) {
                    throw new IllegalStateException("Compiled class " + binaryName + " does not load", e);
                }
            }
        }
    }

    /** Public, or a public or protected member of an exported type; never local, anonymous or synthetic. */
    private static boolean exported(Class<?> type) {
        if (type.isSynthetic() || type.isAnonymousClass() || type.isLocalClass()) return false;
        Class<?> enclosing = type.getDeclaringClass();
        if (enclosing == null) return Modifier.isPublic(type.getModifiers());
        return exported(type.getModifiers()) && exported(enclosing);
    }

    private static boolean exported(int modifiers) {
        return Modifier.isPublic(modifiers) || Modifier.isProtected(modifiers);
    }

    private static String typeLine(Class<?> type) {
        int modifiers = type.getModifiers() & TYPE_MODIFIERS;
        String kind;
        if (type.isAnnotation()) kind = "@interface";
        else if (type.isInterface()) kind = "interface";
        else if (type.isEnum()) kind = "enum";
        else if (type.isRecord()) kind = "record";
        else kind = "class";
        // Implied by the kind, so not repeated.
        if (type.isInterface()) modifiers &= ~(Modifier.ABSTRACT | Modifier.STATIC);
        if (type.isEnum() || type.isRecord()) modifiers &= ~(Modifier.FINAL | Modifier.STATIC);
        StringBuilder line = new StringBuilder(modifiers(modifiers, TYPE_MODIFIERS));
        if (type.isSealed()) line.append("sealed ");
        line.append(kind).append(' ').append(type.getCanonicalName()).append(typeParameters(type));
        Type superclass = type.getGenericSuperclass();
        if (superclass != null && superclass != Object.class && superclass != Record.class && !type.isEnum())
            line.append(" extends ").append(typeName(superclass));
        if (type.getGenericInterfaces().length > 0)
            line.append(type.isInterface() ? " extends " : " implements ")
                    .append(join(Arrays.asList(type.getGenericInterfaces())));
        if (type.isSealed())
            line.append(" permits ")
                    .append(Arrays.stream(type.getPermittedSubclasses())
                            .map(Class::getCanonicalName)
                            .sorted()
                            .collect(Collectors.joining(", ")));
        return line.toString();
    }

    private static String executable(Class<?> owner, Executable e, Type returnType) {
        StringBuilder s = new StringBuilder(modifiers(e.getModifiers(), MEMBER_MODIFIERS));
        if (e instanceof Method m && m.isDefault()) s.append("default ");
        String typeParameters = typeParameters(e);
        if (!typeParameters.isEmpty()) s.append(typeParameters).append(' ');
        if (returnType != null) s.append(typeName(returnType)).append(' ').append(e.getName());
        else s.append(owner.getSimpleName());
        List<String> parameters = new ArrayList<>();
        for (Type p : e.getGenericParameterTypes()) parameters.add(typeName(p));
        if (e.isVarArgs() && !parameters.isEmpty()) {
            int last = parameters.size() - 1;
            String vararg = parameters.get(last);
            parameters.set(last, vararg.substring(0, vararg.length() - 2) + "...");
        }
        s.append('(').append(String.join(", ", parameters)).append(')');
        if (e.getGenericExceptionTypes().length > 0)
            s.append(" throws ").append(join(Arrays.asList(e.getGenericExceptionTypes())));
        return s.toString();
    }

    private static String typeParameters(GenericDeclaration declaration) {
        TypeVariable<?>[] variables = declaration.getTypeParameters();
        if (variables.length == 0) return "";
        List<String> parameters = new ArrayList<>();
        for (TypeVariable<?> v : variables) {
            List<Type> bounds =
                    Arrays.stream(v.getBounds()).filter(b -> b != Object.class).collect(Collectors.toList());
            parameters.add(bounds.isEmpty() ? v.getName() : v.getName() + " extends " + join(bounds, " & "));
        }
        return "<" + String.join(", ", parameters) + ">";
    }

    private static String modifiers(int modifiers, int mask) {
        String s = Modifier.toString(modifiers & mask);
        return s.isEmpty() ? "" : s + " ";
    }

    /** A type as source names it: nested types with a dot, not the binary name's dollar. */
    private static String typeName(Type type) {
        return type.getTypeName().replace('$', '.');
    }

    private static String join(Collection<? extends Type> types) {
        return join(types, ", ");
    }

    private static String join(Collection<? extends Type> types, String separator) {
        return types.stream().map(ApiSignature::typeName).collect(Collectors.joining(separator));
    }

    /** A type's name without its package: {@code dev.locking.spi.AcquireResult.Blocked} is {@code AcquireResult.Blocked}. */
    static String simpleName(String canonicalName) {
        String[] parts = canonicalName.split("\\.");
        int first = 0;
        while (first < parts.length - 1 && !Character.isUpperCase(parts[first].charAt(0))) first++;
        return String.join(".", Arrays.asList(parts).subList(first, parts.length));
    }

    /** The committed file's text for {@code entries}. */
    static String render(List<Entry> entries) {
        StringBuilder text = new StringBuilder(HEADER);
        for (Entry e : entries) {
            if (e.isType()) text.append('\n');
            text.append(e.line()).append('\n');
        }
        return text.toString();
    }

    /** The entries of a committed file; comment and blank lines are not part of the surface. */
    static List<Entry> parse(String text) {
        List<Entry> entries = new ArrayList<>();
        String type = null;
        for (String line : text.split("\n", -1)) {
            if (line.isBlank() || line.startsWith("#")) continue;
            if (!line.startsWith(INDENT)) type = canonicalNameOf(line);
            if (type == null) throw new IllegalArgumentException("A member line before any type line: " + line);
            entries.add(new Entry(type, line.stripTrailing()));
        }
        return entries;
    }

    private static final Pattern TYPE_NAME =
            Pattern.compile("(?:^|\\s)(?:class|interface|enum|record|@interface) ([\\w.]+)");

    private static String canonicalNameOf(String typeLine) {
        Matcher m = TYPE_NAME.matcher(typeLine);
        if (!m.find()) throw new IllegalArgumentException("Not a type line: " + typeLine);
        return m.group(1);
    }

    /** What was removed (-) and added (+), under the type each line belongs to. */
    static String diff(List<Entry> committed, List<Entry> current) {
        Set<Entry> before = new LinkedHashSet<>(committed), after = new LinkedHashSet<>(current);
        Map<String, List<String>> byType = new TreeMap<>();
        for (Entry e : committed)
            if (!after.contains(e))
                byType.computeIfAbsent(e.type(), t -> new ArrayList<>()).add("- " + e.line());
        for (Entry e : current)
            if (!before.contains(e))
                byType.computeIfAbsent(e.type(), t -> new ArrayList<>()).add("+ " + e.line());
        StringBuilder s = new StringBuilder();
        byType.forEach((type, lines) -> {
            s.append("  ").append(type).append('\n');
            lines.forEach(l -> s.append("  ").append(l).append('\n'));
        });
        return s.toString();
    }

    /** The names of every type and member that differs between the two, removed or added. */
    static Set<String> changedNames(List<Entry> committed, List<Entry> current) {
        Set<Entry> before = Set.copyOf(committed), after = Set.copyOf(current);
        Set<String> names = new TreeSet<>();
        for (Entry e : committed) if (!after.contains(e)) names.add(e.name());
        for (Entry e : current) if (!before.contains(e)) names.add(e.name());
        return names;
    }

    /** The text of the changelog's {@code ## [Unreleased]} section, or null when it has none. */
    static String unreleasedSection(String changelog) {
        StringBuilder section = null;
        for (String line : changelog.split("\n", -1)) {
            if (line.startsWith("## ")) {
                if (section != null) break;
                if (line.toLowerCase(java.util.Locale.ROOT).startsWith("## [unreleased]"))
                    section = new StringBuilder();
                continue;
            }
            if (section != null) section.append(line).append('\n');
        }
        return section == null ? null : section.toString();
    }

    /**
     * The names the section does not mention. A name counts as mentioned when it appears whole (not
     * as part of a longer name), written {@code Type.member} or {@code Type#member} for a member.
     */
    static Set<String> notMentioned(Set<String> names, String section) {
        Set<String> missing = new TreeSet<>();
        for (String name : names) {
            String pattern = Pattern.quote(name).replace(".", "\\E[.#]\\Q");
            if (!Pattern.compile("(?<![\\w#])" + pattern + "(?![\\w])")
                    .matcher(section)
                    .find()) missing.add(name);
        }
        return missing;
    }
}
