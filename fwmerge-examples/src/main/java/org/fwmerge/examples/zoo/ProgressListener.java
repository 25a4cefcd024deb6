package org.fwmerge.examples.zoo;

import java.io.PrintStream;
import java.util.Objects;

/** Receives training progress of {@link Zoo#build} and {@link VitZoo#build}; called from the threads that train (tasks train side by side). */
@FunctionalInterface
public interface ProgressListener {

    /**
     * One epoch finished.
     *
     * @param stage  "pretrain", "head" or "finetune"
     * @param task   task name ("pretext" while pre-training)
     * @param index  1-based index of the task (0 while pre-training)
     * @param tasks  number of tasks
     * @param epoch  1-based epoch
     * @param epochs epochs of this stage
     * @param loss   mean training loss of the epoch
     */
    void epoch(String stage, String task, int index, int tasks, int epoch, int epochs, double loss);

    /** Ignores progress. */
    static ProgressListener none() {
        return (stage, task, index, tasks, epoch, epochs, loss) -> { };
    }

    /** A live one-line status on {@code out} (rewritten with carriage returns; ends lines on a new stage). */
    static ProgressListener line(PrintStream out) {
        Objects.requireNonNull(out, "out");
        return (stage, task, index, tasks, epoch, epochs, loss) -> {
            synchronized (out) {
                out.printf("\r[zoo] %-8s task %2d/%d %-18s epoch %2d/%d loss %.4f   ", stage, index, tasks, task, epoch,
                        epochs, loss);
                if (epoch == epochs && (stage.equals("finetune") && index == tasks || stage.equals("pretrain"))) {
                    out.println();
                }
                out.flush();
            }
        };
    }
}
