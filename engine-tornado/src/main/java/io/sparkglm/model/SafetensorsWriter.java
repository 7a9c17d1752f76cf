package io.sparkglm.model;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Writes tensors as safetensors: one {@code model.safetensors}, or {@code shards} files named
 * {@code model-0000i-of-0000n.safetensors} plus {@code model.safetensors.index.json}, as Hugging Face does.
 */
public final class SafetensorsWriter {

    /** One tensor: its stored name, type (F32, F16 or BF16) and numpy-order shape. */
    public record Tensor(String name, GgmlType type, long[] shape, TensorBytes data) {}

    private SafetensorsWriter() {}

    public static void write(Path folder, List<Tensor> tensors, int shards) throws IOException {
        if (shards < 1 || shards > Math.max(1, tensors.size())) {
            throw new IllegalArgumentException("shards must be between 1 and the tensor count " + tensors.size() + ": " + shards);
        }
        Files.createDirectories(folder);
        if (shards == 1) {
            writeFile(folder.resolve(HfCheckpoint.SINGLE), tensors);
            return;
        }
        // split into contiguous groups of about equal bytes
        long total = 0;
        for (Tensor t : tensors) total += t.data().byteSize();
        List<List<Tensor>> groups = new ArrayList<>();
        for (int i = 0; i < shards; i++) groups.add(new ArrayList<>());
        long seen = 0;
        int remainingTensors = tensors.size();
        int shard = 0;
        for (Tensor t : tensors) {
            // move on when this shard has its share, but leave at least one tensor for each later shard
            if (shard < shards - 1 && !groups.get(shard).isEmpty()
                    && (seen >= total * (shard + 1) / shards || remainingTensors <= shards - 1 - shard)) {
                shard++;
            }
            groups.get(shard).add(t);
            seen += t.data().byteSize();
            remainingTensors--;
        }
        ObjectNode index = HfConfig.JSON.createObjectNode();
        index.putObject("metadata").put("total_size", total);
        ObjectNode weightMap = index.putObject("weight_map");
        for (int i = 0; i < shards; i++) {
            String name = String.format("model-%05d-of-%05d.safetensors", i + 1, shards);
            writeFile(folder.resolve(name), groups.get(i));
            for (Tensor t : groups.get(i)) weightMap.put(t.name(), name);
        }
        Files.writeString(folder.resolve(HfCheckpoint.INDEX), HfConfig.JSON.writerWithDefaultPrettyPrinter().writeValueAsString(index));
    }

    private static void writeFile(Path file, List<Tensor> tensors) throws IOException {
        ObjectNode header = HfConfig.JSON.createObjectNode();
        header.putObject("__metadata__").put("format", "pt");
        long offset = 0;
        for (Tensor t : tensors) {
            ObjectNode entry = header.putObject(t.name());
            entry.put("dtype", dtype(t));
            var shape = entry.putArray("shape");
            for (long d : t.shape()) shape.add(d);
            entry.putArray("data_offsets").add(offset).add(offset + t.data().byteSize());
            offset += t.data().byteSize();
        }
        byte[] json = HfConfig.JSON.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8; // the spec allows trailing spaces; keeps the data 8-aligned
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
            ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
            head.putLong(padded).put(json);
            while (head.hasRemaining()) head.put((byte) ' ');
            head.flip();
            TensorBytes.writeFully(ch, head);
            for (Tensor t : tensors) t.data().writeTo(ch);
        }
    }

    private static String dtype(Tensor t) {
        return switch (t.type()) {
            case F32 -> "F32";
            case F16 -> "F16";
            case BF16 -> "BF16";
            default -> throw new IllegalArgumentException(t.name() + ": safetensors holds F32, F16 or BF16, not " + t.type());
        };
    }
}
