package org.fwmerge.io;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * A seeded, bounded mutation fuzzer over valid files (runs in every build, unlike Jazzer's
 * coverage-guided mode): bit flips, byte edits, truncation, splicing, header-length rewrites and
 * number extremes spliced into JSON. Only {@link CheckpointException} may escape, and valid inputs
 * must stay valid.
 */
class HeaderMutationFuzzTest {

    private static final String[] TOKENS = {"0", "-1", "1.0", "1e0", "18446744073709551615", "18446744073709551616",
        "9223372036854775807", "9223372036854775808", "4294967296", "NaN", "Infinity", "null", "true", "[]", "{}",
        "\"\"", "\"\\ud800\"", "\"F32\"", "\"BF16\"", "\"F4\"", "\"I64\"", ",", ":", "[", "]", "{", "}", "\"", "\\",
        "\"__metadata__\"", "\"shape\"", "\"dtype\"", "\"data_offsets\"", "[0,0]", "[0,4]", "[4294967296,4294967296]",
        "\u00ff", "\uFEFF", "\0", " ", "/*", "1e999", "-0", "00", "01"};

    private static List<byte[]> seeds() throws IOException {
        List<byte[]> out = new ArrayList<>();
        for (String f : List.of("small_f32.safetensors", "small_bf16.safetensors", "mixed_dtypes.safetensors",
                "sharded/model-00002-of-00002.safetensors", "lora_adapter/adapter_model.safetensors")) {
            out.add(Files.readAllBytes(Fixtures.path(f)));
        }
        return out;
    }

    private static byte[] mutate(byte[] in, SplittableRandom r, List<byte[]> seeds) {
        byte[] b = in.clone();
        int ops = 1 + r.nextInt(4);
        for (int op = 0; op < ops && b.length > 0; op++) {
            int headerEnd = (int) Math.min(b.length, 8 + Math.max(0, Math.min(b.length, headerLength(b))));
            int at = r.nextInt(Math.max(1, headerEnd));
            switch (r.nextInt(8)) {
                case 0 -> b[at] ^= (byte) (1 << r.nextInt(8)); // bit flip
                case 1 -> b[at] = (byte) r.nextInt(256); // byte edit
                case 2 -> b = Arrays.copyOf(b, r.nextInt(b.length + 1)); // truncation
                case 3 -> { // splice a token into the header text and fix up the length prefix
                    if (b.length < 8) {
                        continue;
                    }
                    byte[] tok = TOKENS[r.nextInt(TOKENS.length)].getBytes(StandardCharsets.UTF_8);
                    int pos = Math.max(8, Math.min(at, b.length));
                    int cut = Math.min(b.length - pos, r.nextInt(4));
                    byte[] nb = new byte[b.length + tok.length - cut];
                    System.arraycopy(b, 0, nb, 0, pos);
                    System.arraycopy(tok, 0, nb, pos, tok.length);
                    System.arraycopy(b, pos + cut, nb, pos + tok.length, b.length - pos - cut);
                    b = nb;
                    setHeaderLength(b, headerLength(b) + tok.length - cut);
                }
                case 4 -> { // length prefix extremes
                    if (b.length >= 8) {
                        long[] v = {0, 1, 7, 100_000_000L, 100_000_001L, -1L, Long.MIN_VALUE, headerLength(b) + 1,
                            headerLength(b) - 1, b.length};
                        setHeaderLength(b, v[r.nextInt(v.length)]);
                    }
                }
                case 5 -> { // splice with another seed
                    byte[] o = seeds.get(r.nextInt(seeds.size()));
                    int cut = r.nextInt(b.length + 1);
                    int from = r.nextInt(o.length + 1);
                    byte[] nb = Arrays.copyOf(b, cut + o.length - from);
                    System.arraycopy(o, from, nb, cut, o.length - from);
                    b = nb;
                }
                case 6 -> { // trailing bytes
                    b = Arrays.copyOf(b, b.length + 1 + r.nextInt(16));
                }
                default -> { // replace a digit run with an extreme number
                    int p = at;
                    while (p < headerEnd && (b[p] < '0' || b[p] > '9')) {
                        p++;
                    }
                    if (p < headerEnd) {
                        int q = p;
                        while (q < headerEnd && b[q] >= '0' && b[q] <= '9') {
                            q++;
                        }
                        byte[] tok = TOKENS[r.nextInt(10)].getBytes(StandardCharsets.UTF_8);
                        byte[] nb = new byte[b.length - (q - p) + tok.length];
                        System.arraycopy(b, 0, nb, 0, p);
                        System.arraycopy(tok, 0, nb, p, tok.length);
                        System.arraycopy(b, q, nb, p + tok.length, b.length - q);
                        b = nb;
                        setHeaderLength(b, headerLength(b) + tok.length - (q - p));
                    }
                }
            }
        }
        return b;
    }

    private static long headerLength(byte[] b) {
        return b.length < 8 ? 0 : ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
    }

    private static void setHeaderLength(byte[] b, long n) {
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, n);
    }

    @Test
    void parse_30000MutatedFiles_onlyCheckpointExceptions() throws IOException {
        List<byte[]> seeds = seeds();
        for (byte[] s : seeds) {
            SafetensorsFile.parse("seed", s); // seeds are valid
        }
        SplittableRandom r = new SplittableRandom(20250101L);
        int rejected = 0;
        int accepted = 0;
        for (int i = 0; i < 30_000; i++) {
            byte[] input = mutate(seeds.get(r.nextInt(seeds.size())), r, seeds);
            try {
                SafetensorsFile.parse("fuzz", input);
                accepted++;
            } catch (CheckpointException e) {
                rejected++;
                assertTrue(e.getMessage().startsWith("fuzz"), e.getMessage());
            } catch (RuntimeException | Error e) {
                fail("input #" + i + " (" + Arrays.toString(Arrays.copyOf(input, Math.min(input.length, 400)))
                        + ") escaped with " + e, e);
            }
        }
        // The mutator must actually exercise both outcomes, or it tests nothing.
        assertTrue(rejected > 10_000, "rejected " + rejected);
        assertTrue(accepted > 50, "accepted " + accepted);
    }
}
