package org.fwmerge.internal;

import java.util.List;
import org.fwmerge.io.Checkpoint;
import org.fwmerge.io.TensorReader;

/** The readers of one tensor of several checkpoints, closed together. */
public final class Readers implements AutoCloseable {
    private final TensorReader[] readers;

    private Readers(TensorReader[] readers) {
        this.readers = readers;
    }

    /** Opens tensor {@code name} of each checkpoint, in order; closes those opened if one fails. */
    public static Readers open(List<? extends Checkpoint> checkpoints, String name) {
        TensorReader[] r = new TensorReader[checkpoints.size()];
        Readers out = new Readers(r);
        try {
            for (int i = 0; i < r.length; i++) {
                r[i] = checkpoints.get(i).reader(name);
            }
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        return out;
    }

    /** The readers, in the checkpoints' order (the array is shared, not copied). */
    public TensorReader[] all() {
        return readers;
    }

    @Override
    public void close() {
        for (TensorReader r : readers) {
            if (r != null) {
                r.close();
            }
        }
    }
}
