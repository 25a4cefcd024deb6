package org.fwmerge.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The index of a sharded checkpoint must name plain, existing shard files that agree with their contents. */
class ShardedIndexTest {

    @TempDir
    Path tmp;

    private static final String S1 = "model-00001-of-00002.safetensors";
    private static final String S2 = "model-00002-of-00002.safetensors";

    /** The fixture's shards with a hand-written weight_map. */
    private Path dir(String weightMapBody) throws IOException {
        Path d = tmp.resolve("ck");
        Files.createDirectories(d);
        Files.copy(Fixtures.path("sharded/" + S1), d.resolve(S1));
        Files.copy(Fixtures.path("sharded/" + S2), d.resolve(S2));
        Files.writeString(d.resolve("model.safetensors.index.json"),
                "{\"metadata\":{\"total_size\":88},\"weight_map\":{" + weightMapBody + "}}");
        return d;
    }

    private static String all(String scalarFile) {
        return "\"empty\":\"" + S1 + "\",\"layer.0.bias\":\"" + S1 + "\",\"layer.0.weight\":\"" + S1
                + "\",\"layer.1.weight\":\"" + S2 + "\",\"scalar\":\"" + scalarFile + "\"";
    }

    private static void assertRejected(Path d, String... fragments) {
        InvalidIndexException e = assertThrows(InvalidIndexException.class, () -> Safetensors.open(d));
        assertTrue(e.getMessage().contains(d.resolve("model.safetensors.index.json").toString()), e.getMessage());
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), "'" + f + "' in " + e.getMessage());
        }
    }

    @Test
    void metadata_isEveryShardsTogether_firstShardWinsAConflict() throws IOException {
        Path d = Files.createDirectories(tmp.resolve("meta"));
        org.fwmerge.tensor.TensorBackend ref = org.fwmerge.tensor.TensorBackends.reference();
        Safetensors.write(org.fwmerge.Model.ofArrays("1", ref, java.util.Map.of("a", new float[] {1}), java.util.Map.of()),
                d.resolve(S1), DType.F32, java.util.Map.of("format", "pt", "author", "x", "shard", "1"));
        Safetensors.write(org.fwmerge.Model.ofArrays("2", ref, java.util.Map.of("b", new float[] {2}), java.util.Map.of()),
                d.resolve(S2), DType.F32, java.util.Map.of("format", "pt", "extra", "y", "shard", "2"));
        Files.writeString(d.resolve("model.safetensors.index.json"),
                "{\"weight_map\":{\"a\":\"" + S1 + "\",\"b\":\"" + S2 + "\"}}");
        try (Checkpoint c = Safetensors.open(d)) {
            assertEquals(java.util.Map.of("format", "pt", "author", "x", "extra", "y", "shard", "1"), c.metadata());
        }
    }

    @Test
    void open_weightMapNamesMissingFile_rejected() throws IOException {
        assertRejected(dir(all("model-00003-of-00003.safetensors")), "'scalar'", "model-00003-of-00003.safetensors",
                "does not exist");
    }

    @Test
    void open_weightMapAbsolutePath_rejected() throws IOException {
        Path d = dir(all(tmp.resolve("ck").resolve(S2).toString()));
        assertRejected(d, "'scalar'", "not a plain file name");
    }

    @Test
    void open_weightMapDotDot_rejected() throws IOException {
        assertRejected(dir(all("..")), "'scalar'", "\"..\"");
    }

    @Test
    void open_weightMapWithSeparator_rejected() throws IOException {
        assertRejected(dir(all("../ck/" + S2)), "'scalar'", "../ck/" + S2);
        Files.delete(tmp.resolve("ck/model.safetensors.index.json"));
        Files.writeString(tmp.resolve("ck/model.safetensors.index.json"),
                "{\"weight_map\":{" + all("sub\\\\" + S2) + "}}");
        assertRejected(tmp.resolve("ck"), "'scalar'", "not a plain file name");
    }

    @Test
    void open_indexListsTensorMissingFromShard_rejected() throws IOException {
        assertRejected(dir(all(S2) + ",\"ghost\":\"" + S2 + "\""), "'ghost'", "does not hold it");
    }

    @Test
    void open_shardHoldsTensorNotInIndex_rejected() throws IOException {
        assertRejected(dir("\"empty\":\"" + S1 + "\",\"layer.0.bias\":\"" + S1 + "\",\"layer.0.weight\":\"" + S1
                + "\",\"layer.1.weight\":\"" + S2 + "\""), "'scalar'", "not in the index");
    }

    @Test
    void open_indexPlacesTensorInWrongShard_rejected() throws IOException {
        assertRejected(dir(all(S1)), "'scalar'");
    }

    @Test
    void open_indexDuplicateKey_rejected() throws IOException {
        assertRejected(dir(all(S2) + ",\"scalar\":\"" + S2 + "\""), "duplicate key \"scalar\"");
    }
}
