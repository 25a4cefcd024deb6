package org.fwmerge.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** Access to the reference fixtures copied under src/test/resources/safetensors and their expected.json. */
final class Fixtures {

    private Fixtures() {
    }

    /** A fixture file or directory, relative to the safetensors resource folder. */
    static Path path(String relative) {
        URL u = Fixtures.class.getResource("/safetensors/" + relative);
        if (u == null) {
            throw new IllegalArgumentException("no fixture " + relative);
        }
        try {
            return Path.of(u.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** expected.json, parsed with the strict parser. */
    static Map<?, ?> expected() {
        try {
            return (Map<?, ?>) StrictJson.parse(StrictJson.decodeUtf8(Files.readAllBytes(path("expected.json"))));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (StrictJson.SyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The expected float32 values of one tensor of one fixture entry. */
    static float[] values(Map<?, ?> expected, String fixture, String tensor) {
        List<?> v = (List<?>) ((Map<?, ?>) ((Map<?, ?>) expected.get(fixture)).get(tensor)).get("values_as_float32");
        float[] out = new float[v.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) ((StrictJson.Num) v.get(i)).doubleValue();
        }
        return out;
    }

    /** The expected shape of one tensor of one fixture entry. */
    static long[] shape(Map<?, ?> expected, String fixture, String tensor) {
        List<?> v = (List<?>) ((Map<?, ?>) ((Map<?, ?>) expected.get(fixture)).get(tensor)).get("shape");
        long[] out = new long[v.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = Long.parseLong(((StrictJson.Num) v.get(i)).text());
        }
        return out;
    }

    /** Tensor names of one fixture entry. */
    static List<String> tensors(Map<?, ?> expected, String fixture) {
        return ((Map<?, ?>) expected.get(fixture)).keySet().stream().map(String.class::cast).toList();
    }
}
