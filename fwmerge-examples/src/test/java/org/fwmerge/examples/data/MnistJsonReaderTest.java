package org.fwmerge.examples.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MnistJsonReaderTest {

    @TempDir
    Path dir;

    /** JSON of {@code images} images where image k has all pixels = (k+1)/1000 except pixel 5 = 0.992. */
    private static String json(int images) {
        StringBuilder sb = new StringBuilder("{ \"data\": [");
        for (int k = 0; k < images; k++) {
            for (int i = 0; i < 784; i++) {
                if (k + i > 0) {
                    sb.append(',');
                }
                sb.append(i == 5 ? "0.992" : String.valueOf((k + 1) / 1000.0));
            }
        }
        return sb.append("]}\n").toString();
    }

    private Path write(String name, String content) throws IOException {
        return Files.writeString(dir.resolve(name), content, StandardCharsets.UTF_8);
    }

    @Test
    void read_tenDigitFiles_labelsFromFileNames() throws IOException {
        for (int d = 0; d < 10; d++) {
            write(d + ".json", json(d == 3 ? 2 : 1));
        }
        Dataset ds = MnistJsonReader.read(dir, "digits");
        assertEquals(11, ds.size());
        assertArrayEquals(new int[] {0, 1, 2, 3, 3, 4, 5, 6, 7, 8, 9}, ds.labels());
        assertEquals(0.992f, ds.image(4)[5]);
        assertEquals(0.002f, ds.image(4)[6]); // second image of digit 3
        assertEquals(0.001f, ds.image(10)[783]);
    }

    @Test
    void readFile_valueOutOfRange_namesValueAndOffset() throws IOException {
        Path f = write("x.json", "{\"data\":[0.5,1.5]}");
        DatasetFormatException e = assertThrows(DatasetFormatException.class, () -> MnistJsonReader.readFile(f));
        assertEquals(f + ": value 1.5 at offset 13 is outside [0,1]", e.getMessage());
    }

    @Test
    void readFile_truncated_reported() throws IOException {
        Path f = write("t.json", "{\"data\":[0.5,0");
        DatasetFormatException e = assertThrows(DatasetFormatException.class, () -> MnistJsonReader.readFile(f));
        assertEquals(f + ": at offset 14: end of file (truncated), expected ',' or ']'", e.getMessage());
    }

    @Test
    void readFile_notWholeImages_reportsCounts() throws IOException {
        Path f = write("n.json", "{\"data\":[0,0,0]}");
        DatasetFormatException e = assertThrows(DatasetFormatException.class, () -> MnistJsonReader.readFile(f));
        assertEquals(f + ": 3 values is not a whole number of 28x28 images (0 images and 3 extra values)",
                e.getMessage());
    }

    @Test
    void readFile_wrongKey_reported() throws IOException {
        Path f = write("k.json", "{\"pixels\":[]}");
        DatasetFormatException e = assertThrows(DatasetFormatException.class, () -> MnistJsonReader.readFile(f));
        assertEquals(f + ": at offset 9: key \"pixels\", expected \"data\"", e.getMessage());
    }

    @Test
    void read_missingDigitFile_namesIt() throws IOException {
        for (int d = 0; d < 9; d++) {
            write(d + ".json", json(1));
        }
        DatasetFormatException e = assertThrows(DatasetFormatException.class, () -> MnistJsonReader.read(dir, "d"));
        assertEquals(dir.resolve("9.json") + ": missing: expected one file per digit 0..9 in " + dir, e.getMessage());
    }
}
