package io.sparkglm.backend;

import io.sparkglm.model.Checkpoint;
import java.util.ArrayList;
import java.util.List;
import java.util.ServiceLoader;

/** Chooses a backend by name: "cpu", "tornado", or "auto" (the first available accelerator, else cpu). */
public final class Backends {

    private Backends() {}

    public static Backend open(String name, Checkpoint checkpoint, BackendOptions options) {
        List<BackendProvider> providers = providers();
        if (name.equals("auto")) {
            for (BackendProvider p : providers) {
                if (p.usesAccelerator() && p.available()) return p.open(checkpoint, options);
            }
            return open("cpu", checkpoint, options);
        }
        for (BackendProvider p : providers) {
            if (p.name().equals(name)) {
                if (!p.available()) throw new IllegalStateException("backend '" + name + "' cannot run here: " + p.unavailableReason());
                return p.open(checkpoint, options);
            }
        }
        if (name.equals("tornado")) {
            throw new IllegalStateException("backend 'tornado' is not installed: build spark-glm with TORNADOVM_HOME set "
                    + "to a TornadoVM SDK (see docs/adr/0005-tornadovm-backend.md) and run with its JVM flags");
        }
        throw new IllegalArgumentException("unknown backend '" + name + "' (known: " + names(providers) + ", auto)");
    }

    /** The backend {@link #open} would pick for {@code name}: "auto" becomes the first available accelerator, else "cpu". */
    public static String resolveName(String name) {
        if (!name.equals("auto")) return name;
        for (BackendProvider p : providers()) {
            if (p.usesAccelerator() && p.available()) return p.name();
        }
        return "cpu";
    }

    /** The device backend {@code name} would use, when it is installed, available and has one; else null. */
    public static BackendProvider.DeviceInfo device(String name, int device) {
        for (BackendProvider p : providers()) {
            if (p.name().equals(name) && p.available()) return p.device(device);
        }
        return null;
    }

    private static List<BackendProvider> providers() {
        List<BackendProvider> list = new ArrayList<>();
        ServiceLoader.load(BackendProvider.class, Backends.class.getClassLoader()).forEach(list::add);
        return list;
    }

    private static String names(List<BackendProvider> providers) {
        return String.join(", ", providers.stream().map(BackendProvider::name).toList());
    }
}
