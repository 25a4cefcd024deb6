package org.fwmerge.tensor;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.ServiceLoader;
import java.util.stream.Collectors;
import org.fwmerge.internal.ReferenceBackend;

/**
 * Finds tensor backends. {@link #get()} returns the backend named by the system property
 * {@value #PROPERTY} if set, otherwise the available backend with the highest priority
 * (the ND4J backend when {@code fwmerge-nd4j} is on the class path, else the reference backend).
 */
public final class TensorBackends {

    /** System property naming the backend to use, e.g. {@code -Dfwmerge.backend=reference}. */
    public static final String PROPERTY = "fwmerge.backend";

    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(TensorBackends.class);

    private TensorBackends() {
    }

    /** The pure-Java reference backend: float arrays, double accumulation, no native code. */
    public static TensorBackend reference() {
        return ReferenceBackend.INSTANCE;
    }

    /** All backends found on the class path (the reference backend included), highest priority first. */
    public static List<TensorBackend> available() {
        return Holder.ALL;
    }

    /**
     * Loaded once per class loader: models check that tensors belong to the same backend instance,
     * so every caller must see the same instances.
     */
    private static final class Holder {
        /** Why a provider on the class path could not be loaded (reported when it is asked for by name). */
        static final List<String> FAILURES = new ArrayList<>();
        static final List<TensorBackend> ALL = load(FAILURES);
    }

    private static List<TensorBackend> load(List<String> failures) {
        List<TensorBackend> all = new ArrayList<>();
        all.add(reference());
        java.util.Iterator<TensorBackend> it = ServiceLoader.load(TensorBackend.class).iterator();
        while (true) {
            try {
                if (!it.hasNext()) {
                    break;
                }
                TensorBackend b = it.next();
                if (!b.name().equals(reference().name())) {
                    all.add(b);
                }
            } catch (java.util.ServiceConfigurationError | LinkageError e) {
                // A backend whose native code cannot load leaves the others usable; say why if it is wanted.
                failures.add(String.valueOf(e.getMessage()));
                LOG.warn("a tensor backend could not be loaded and is skipped: {}", e.toString());
            }
        }
        all.sort(Comparator.comparingInt(TensorBackend::priority).reversed());
        return List.copyOf(all);
    }

    /**
     * The backend to use: the one named by {@value #PROPERTY}, else the highest-priority one.
     *
     * @throws IllegalArgumentException if the property names a backend that is not available (a configuration
     *                                  error, naming the value and the backends there are)
     */
    public static TensorBackend get() {
        String wanted = System.getProperty(PROPERTY);
        List<TensorBackend> all = available();
        if (wanted == null || wanted.isBlank()) {
            return all.get(0);
        }
        return all.stream().filter(b -> b.name().equals(wanted.trim())).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("-D" + PROPERTY + "=" + wanted
                        + " names no available backend; available: "
                        + all.stream().map(TensorBackend::name).collect(Collectors.joining(", "))
                        + (Holder.FAILURES.isEmpty() ? "" : "; not loaded: " + String.join("; ", Holder.FAILURES))));
    }
}
