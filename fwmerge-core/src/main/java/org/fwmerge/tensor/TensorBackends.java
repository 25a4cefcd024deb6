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
        static final List<TensorBackend> ALL = load();
    }

    private static List<TensorBackend> load() {
        List<TensorBackend> all = new ArrayList<>();
        all.add(reference());
        for (TensorBackend b : ServiceLoader.load(TensorBackend.class)) {
            if (!b.name().equals(reference().name())) {
                all.add(b);
            }
        }
        all.sort(Comparator.comparingInt(TensorBackend::priority).reversed());
        return List.copyOf(all);
    }

    /**
     * The backend to use: the one named by {@value #PROPERTY}, else the highest-priority one.
     *
     * @throws IllegalStateException if the property names a backend that is not available
     */
    public static TensorBackend get() {
        String wanted = System.getProperty(PROPERTY);
        List<TensorBackend> all = available();
        if (wanted == null || wanted.isBlank()) {
            return all.get(0);
        }
        return all.stream().filter(b -> b.name().equals(wanted.trim())).findFirst()
                .orElseThrow(() -> new IllegalStateException("-D" + PROPERTY + "=" + wanted
                        + " names no available backend; available: "
                        + all.stream().map(TensorBackend::name).collect(Collectors.joining(", "))));
    }
}
