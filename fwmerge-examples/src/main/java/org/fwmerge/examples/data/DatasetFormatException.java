package org.fwmerge.examples.data;

import java.io.IOException;
import java.util.Objects;

/**
 * A data file that is not what its format promises: bad magic number, truncated content, a count or
 * dimension that does not match, a label out of range. The message names the file and the value.
 */
public final class DatasetFormatException extends IOException {

    private final String file;

    /**
     * @param file    the offending file (as given by the caller, used in the message)
     * @param problem what is wrong, with the value found and the value expected
     */
    public DatasetFormatException(String file, String problem) {
        super(Objects.requireNonNull(file, "file") + ": " + Objects.requireNonNull(problem, "problem"));
        this.file = file;
    }

    /** The file that failed to parse. */
    public String file() {
        return file;
    }
}
