package dev.locking.torture;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Merges the histories of every worker and finds what mutual exclusion forbids: two holds of one
 * key whose valid parts overlap, and a later hold with a token not greater than an earlier one's.
 */
final class HistoryChecker {

    /** What the check found. */
    record Report(
            int holds,
            int keys,
            List<String> overlaps,
            List<String> tokenInversions,
            List<String> validWritesRejected,
            int staleWritesRejected) {
        boolean clean() {
            return overlaps.isEmpty() && tokenInversions.isEmpty() && validWritesRejected.isEmpty();
        }
    }

    static List<Hold> read(List<Path> files) throws IOException {
        List<Hold> holds = new ArrayList<>();
        for (Path file : files)
            for (String line : Files.readAllLines(file)) if (!line.isBlank()) holds.add(Hold.parse(line));
        return holds;
    }

    static Report check(List<Hold> holds) {
        Map<String, List<Hold>> byKey = new TreeMap<>();
        for (Hold h : holds)
            byKey.computeIfAbsent(h.key(), k -> new ArrayList<>()).add(h);
        List<String> overlaps = new ArrayList<>();
        List<String> inversions = new ArrayList<>();
        List<String> validRejected = new ArrayList<>();
        int staleRejected = 0;
        for (Map.Entry<String, List<Hold>> entry : byKey.entrySet()) {
            // Only the part of a hold under a valid lease is promised exclusive; a holder frozen
            // past its lease (SIGSTOP) has an empty valid part and must be stopped by fencing instead.
            List<Hold> list = new ArrayList<>();
            for (Hold h : entry.getValue()) {
                boolean valid = h.start() < h.validEnd();
                if (valid) list.add(h);
                if (!h.guardAccepted()) {
                    if (h.end() <= h.validUntil())
                        validRejected.add(entry.getKey() + ": " + describe(h)
                                + " held a valid lease, yet a greater token had written");
                    else staleRejected++;
                }
            }
            list.sort(Comparator.comparingLong(Hold::start));
            Hold latest = null;
            for (Hold h : list) {
                if (latest != null && h.start() < latest.validEnd())
                    overlaps.add(entry.getKey() + ": " + describe(latest) + " overlaps " + describe(h));
                if (latest == null || h.validEnd() > latest.validEnd()) latest = h;
            }
            // Tokens grow in the order holds began.
            for (int i = 1; i < list.size(); i++)
                if (list.get(i).token() <= list.get(i - 1).token())
                    inversions.add(
                            entry.getKey() + ": " + describe(list.get(i - 1)) + " then " + describe(list.get(i)));
        }
        return new Report(holds.size(), byKey.size(), overlaps, inversions, validRejected, staleRejected);
    }

    private static String describe(Hold h) {
        return h.worker() + "/" + h.mode() + " token " + h.token() + " [" + h.start() + ", " + h.validEnd() + "]";
    }
}
