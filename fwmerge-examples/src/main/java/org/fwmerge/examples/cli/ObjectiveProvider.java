package org.fwmerge.examples.cli;

import java.util.Map;
import org.fwmerge.Objective;

/**
 * Makes the objective of a {@code merge_method: frank_wolfe} configuration from the YAML's
 * {@code objective:} map, for {@code fwmerge merge}. Name the implementing class in the map and put its
 * jar on the class path:
 * <pre>
 * objective:
 *   class: com.example.MyObjectiveProvider   # public, with a public no-argument constructor
 *   calibration: data/calibration.bin        # any other keys reach create() as settings
 *   samples: 100
 * </pre>
 * {@code java -cp fwmerge.jar:my-objective.jar org.fwmerge.examples.cli.FwmergeCli merge config.yaml out/}
 */
@FunctionalInterface
public interface ObjectiveProvider {

    /**
     * The objective. It receives the tensors being merged (all mergeable tensors, or those matched by
     * the map's {@code tensors:} patterns).
     *
     * @param settings the {@code objective:} map without {@code class} and {@code tensors} (YAML
     *                 scalars, lists and maps as SnakeYAML reads them; unmodifiable). Relative paths in
     *                 it are meant relative to the working directory, like the model paths.
     * @throws IllegalArgumentException for a bad setting; the message reaches the user as the error line
     */
    Objective create(Map<String, Object> settings);
}
