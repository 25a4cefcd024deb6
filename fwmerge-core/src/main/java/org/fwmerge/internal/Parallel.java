package org.fwmerge.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Splits a streaming pass over {@code [0, n)} into one contiguous range per core, run on the caller
 * and the JVM's common pool (whose size already matches the cores, so nothing is oversubscribed).
 * The ranges depend only on {@code n}, never on scheduling, and results come back in range order,
 * so sums combined in that order are identical on every run.
 */
public final class Parallel {

    /** Elements per range below which a pass is not split: forking costs ~10 µs, a chunk of 64 Ki ~20 µs. */
    public static final long MIN_PER_RANGE = 1L << 18;

    /** One range's work. */
    @FunctionalInterface
    public interface RangeTask<T> {
        T run(long from, long to);
    }

    private Parallel() {
    }

    /** The ranges' results, in range order; ranges start at multiples of {@link Kernels#CHUNK}. */
    public static <T> List<T> ranges(long n, RangeTask<T> task) {
        int cores = ForkJoinPool.getCommonPoolParallelism() + 1;
        int parts = (int) Math.max(1, Math.min(cores, n / MIN_PER_RANGE));
        long step = ((n + parts - 1) / parts + Kernels.CHUNK - 1) / Kernels.CHUNK * Kernels.CHUNK;
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<ForkJoinTask<T>> forked = new ArrayList<>();
        for (int p = 1; p < parts && p * step < n; p++) {
            long from = p * step;
            long to = Math.min(n, from + step);
            forked.add(ForkJoinPool.commonPool().submit(() -> recording(failure, () -> task.run(from, to))));
        }
        List<T> out = new ArrayList<>();
        out.add(recording(failure, () -> task.run(0, Math.min(n, step))));
        rethrow(joinAll(forked, out, null));
        rethrow(failure.get());
        return out;
    }

    /**
     * {@code task(0) … task(count − 1)} spread over the caller and the common pool's workers, each
     * taking the next item when free; the results come back in item order, whoever computed them.
     */
    public static <T> List<T> items(int count, java.util.function.IntFunction<T> task) {
        Object[] results = new Object[count];
        java.util.concurrent.atomic.AtomicInteger next = new java.util.concurrent.atomic.AtomicInteger();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Runnable worker = () -> {
            for (int i = next.getAndIncrement(); i < count && failure.get() == null; i = next.getAndIncrement()) {
                try {
                    results[i] = task.apply(i);
                } catch (RuntimeException | Error e) {
                    failure.compareAndSet(null, e);
                }
            }
        };
        int helpers = Math.min(ForkJoinPool.getCommonPoolParallelism(), count - 1);
        List<ForkJoinTask<?>> forked = new ArrayList<>();
        for (int h = 0; h < helpers; h++) {
            forked.add(ForkJoinPool.commonPool().submit(worker));
        }
        worker.run();
        rethrow(joinAll(forked, null, null));
        rethrow(failure.get());
        List<T> out = new ArrayList<>(count);
        for (Object r : results) {
            @SuppressWarnings("unchecked")
            T t = (T) r;
            out.add(t);
        }
        return out;
    }

    /**
     * Waits for every forked task, even after a failure: the caller may free what the tasks write into
     * (a merge closes its output when it fails), so none may still be running when it returns. Adds the
     * results to {@code out} (when given) and returns the first failure.
     */
    private static <T> Throwable joinAll(List<? extends ForkJoinTask<? extends T>> forked, List<T> out, Throwable failure) {
        for (ForkJoinTask<? extends T> f : forked) {
            try {
                T r = f.join();
                if (out != null) {
                    out.add(r);
                }
            } catch (RuntimeException | Error e) {
                failure = failure == null ? e : failure;
            }
        }
        return failure;
    }

    /**
     * Runs {@code work}, recording its failure (the first one wins) instead of throwing it: a failure
     * that crossed {@link ForkJoinTask#join()} would arrive as a copy whose message is the original's
     * {@code toString()}, so callers rethrow the recorded original.
     */
    private static <T> T recording(AtomicReference<Throwable> failure, java.util.function.Supplier<T> work) {
        try {
            return work.get();
        } catch (RuntimeException | Error e) {
            failure.compareAndSet(null, e);
            return null;
        }
    }

    private static void rethrow(Throwable failure) {
        if (failure instanceof RuntimeException e) {
            throw e;
        }
        if (failure instanceof Error e) {
            throw e;
        }
    }
}
