package org.fwmerge;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.io.DType;
import org.fwmerge.io.TensorInfo;
import org.fwmerge.io.TensorReader;
import org.fwmerge.tensor.Tensor;
import org.fwmerge.tensor.TensorBackend;

/**
 * A model held in memory: named, writable float32 tensors of one backend, in a fixed order.
 *
 * <p>Merging produces a {@code Model}; an objective receives one as the point to evaluate. A model
 * is also a {@link Checkpoint}, so it can serve as a pool candidate, an initial point or an input
 * to the safetensors writer. Its tensors are owned by the model: {@link #close()} frees them.
 * A model is not thread-safe for writing.
 */
public final class Model implements Checkpoint {

    private final TensorBackend backend;
    private final LinkedHashMap<String, Tensor> tensors;
    private final String source;

    private Model(TensorBackend backend, LinkedHashMap<String, Tensor> tensors, String source) {
        this.backend = backend;
        this.tensors = tensors;
        this.source = source;
    }

    /**
     * A model owning the given tensors (not copied), all of which must belong to {@code backend}.
     *
     * @param source description used in messages
     */
    public static Model of(String source, TensorBackend backend, Map<String, Tensor> tensors) {
        Objects.requireNonNull(source, "source");
        Objects.requireNonNull(backend, "backend");
        LinkedHashMap<String, Tensor> copy = new LinkedHashMap<>();
        tensors.forEach((name, t) -> {
            Objects.requireNonNull(t, name);
            if (t.backend() != backend) {
                throw new IllegalArgumentException("tensor " + name + " belongs to backend " + t.backend().name()
                        + ", not " + backend.name());
            }
            copy.put(name, t);
        });
        return new Model(backend, copy, source);
    }

    /**
     * A model built from plain arrays (convenient in tests and for small objectives).
     *
     * @param arrays name → values, in the order the model should list them
     * @param shapes name → shape; a name missing here gets the 1-D shape {@code [values.length]}
     */
    public static Model ofArrays(String source, TensorBackend backend, Map<String, float[]> arrays,
            Map<String, long[]> shapes) {
        LinkedHashMap<String, Tensor> t = new LinkedHashMap<>();
        arrays.forEach((name, v) -> t.put(name, backend.fromFloats(v, shapes.getOrDefault(name, new long[] {v.length}))));
        return new Model(backend, t, source);
    }

    /**
     * Loads the named tensors of a checkpoint into writable memory of {@code backend}.
     *
     * @throws IllegalArgumentException if a name is not in the checkpoint
     */
    public static Model load(Checkpoint checkpoint, List<String> names, TensorBackend backend) {
        LinkedHashMap<String, Tensor> t = new LinkedHashMap<>();
        try {
            for (String name : names) {
                t.put(name, read(checkpoint, name, backend));
            }
        } catch (RuntimeException e) {
            t.values().forEach(Tensor::close);
            throw e;
        }
        return new Model(backend, t, checkpoint.source());
    }

    /** A new writable tensor of {@code backend} filled chunk by chunk from the checkpoint's reader. */
    private static Tensor read(Checkpoint checkpoint, String name, TensorBackend backend) {
        try (TensorReader r = checkpoint.reader(name)) {
            return r.toTensor(backend, checkpoint.info(name).shape());
        }
    }

    /** A model of zeros with the same names and shapes as {@code like}. */
    public static Model zerosLike(Model like) {
        LinkedHashMap<String, Tensor> t = new LinkedHashMap<>();
        like.tensors.forEach((name, x) -> t.put(name, like.backend.zeros(x.shape())));
        return new Model(like.backend, t, "zeros");
    }

    /** A deep copy with its own storage. */
    public Model copy() {
        LinkedHashMap<String, Tensor> t = new LinkedHashMap<>();
        tensors.forEach((name, x) -> t.put(name, backend.copyOf(x)));
        return new Model(backend, t, source);
    }

    /** Copies every tensor of {@code other} (same names and shapes) into this model. */
    public void copyFrom(Model other) {
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            backend.copy(other.tensor(e.getKey()), e.getValue());
        }
    }

    /** The backend that holds this model's tensors. */
    public TensorBackend backend() {
        return backend;
    }

    /**
     * The tensor of this name, writable, owned by the model.
     *
     * @throws IllegalArgumentException if absent
     */
    public Tensor tensor(String name) {
        Tensor t = tensors.get(name);
        if (t == null) {
            throw new IllegalArgumentException("model " + source + " has no tensor '" + name + "'");
        }
        return t;
    }

    /** Name → tensor, in model order (unmodifiable). */
    public Map<String, Tensor> tensors() {
        return Collections.unmodifiableMap(tensors);
    }

    /** Total number of elements over all tensors. */
    public long parameterCount() {
        long n = 0;
        for (Tensor t : tensors.values()) {
            n += t.size();
        }
        return n;
    }

    /** ⟨this, other⟩ over all tensors of this model (accumulated in double). */
    public double dot(Model other) {
        double s = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            s += backend.dot(e.getValue(), other.tensor(e.getKey()));
        }
        return s;
    }

    /** All values of one tensor as an array (for tests and small models). */
    public float[] values(String name) {
        return backend.toFloats(tensor(name));
    }

    @Override
    public String source() {
        return source;
    }

    @Override
    public List<String> names() {
        return List.copyOf(new ArrayList<>(tensors.keySet()));
    }

    @Override
    public TensorInfo info(String name) {
        return new TensorInfo(name, DType.F32, tensor(name).shape());
    }

    @Override
    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    /** A read-only view (same backend) or a copy (other backend) of the named tensor. */
    @Override
    public Tensor load(String name, TensorBackend target) {
        Tensor t = tensor(name);
        if (target == backend) {
            return backend.readOnlyView(t);
        }
        // Rare path (mixing backends): the private copy is freed with its view at garbage collection.
        return target.readOnlyView(target.fromFloats(backend.toFloats(t), t.shape()));
    }

    /** Ranges of the named tensor straight from this model's storage (nothing is copied whole). */
    @Override
    public TensorReader reader(String name) {
        return TensorReader.of(tensor(name), false);
    }

    @Override
    public Map<String, String> metadata() {
        return Map.of();
    }

    /** Frees every tensor. */
    @Override
    public void close() {
        tensors.values().forEach(Tensor::close);
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("Model[").append(source).append(": ");
        tensors.forEach((n, t) -> sb.append(n).append(Arrays.toString(t.shape())).append(' '));
        return sb.append(']').toString();
    }
}
