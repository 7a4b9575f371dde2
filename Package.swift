// swift-tools-version:6.0
import PackageDescription

/// mixshards: offline mixup augmentation (`mixprep`) and a CNN trainer that
/// streams the resulting shards (`mixtrain`). See README.md and DESIGN.md.
let package = Package(
    name: "mixshards",
    products: [
        .executable(name: "mixprep", targets: ["mixprep"]),
        .executable(name: "mixtrain", targets: ["mixtrain"]),
        .executable(name: "mixfuzz", targets: ["mixfuzz"]),
    ],
    // Pinned by range to the versions CI builds (README, "Development"); Package.resolved is not
    // committed, because it pins commit ids and our build machines' package copies are not upstream's.
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", .upToNextMinor(from: "1.8.2")),
        .package(url: "https://github.com/LebJe/TOMLKit", .upToNextMinor(from: "0.6.0")),
    ],
    targets: [
        // C libraries: one system-library target each, imported by exactly one Swift file.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CDeflate", pkgConfig: "libdeflate", providers: [.apt(["libdeflate-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libturbojpeg", providers: [.apt(["libturbojpeg0-dev"])]),
        .systemLibrary(name: "CWebP", pkgConfig: "libwebp", providers: [.apt(["libwebp-dev"])]),
        .systemLibrary(name: "CSwscale", pkgConfig: "libswscale", providers: [.apt(["libswscale-dev"])]),
        // The policy ops' geometry (nearest affine maps, bilinear resized crops): libswscale scales but does not map.
        .systemLibrary(name: "CVips", pkgConfig: "vips", providers: [.apt(["libvips-dev"])]),

        // OpenBLAS is not linked: Kernels loads it at run time (dlopen, BLAS.swift) after choosing its kernel.

        // SHA-256 on the x86 SHA extensions; MixCore's Swift SHA256 is the portable path and reference.
        .target(name: "CSHA256"),
        // cpuid/xgetbv for Kernels' CPUFeatures (which BLAS kernel, which SIMD paths).
        .target(name: "CCPUID"),
        // mixfuzz's guard: async-signal-safe crash handlers, hang watchdog, status shared with the supervisor.
        .target(name: "CFuzzGuard"),
        // Vectorised kernels: Winograd transforms and tails, conv0 fused with its pool (baseline, AVX2
        // and AVX-512 builds of each, chosen at run time).
        .target(name: "CKernels"),
        .target(name: "CMapGuard"),
        .target(name: "MixCore", dependencies: ["CSHA256", "CMapGuard"]),
        .target(name: "ZlibKit", dependencies: ["CZlib", "CDeflate", "MixCore"]),
        // Decoding (JPEG, PNG, WebP, EXIF orientation), resizing (libswscale) and PNG encoding.
        .target(name: "ImageCodecs", dependencies: ["CPNG", "CJPEG", "CWebP", "CSwscale", "MixCore"]),
        .target(name: "Imaging", dependencies: ["ImageCodecs", "MixCore"]),
        .target(name: "Datasets", dependencies: ["MixCore", "ZlibKit", "ImageCodecs"]),
        .target(name: "Mixup", dependencies: ["MixCore", "AugmentOps"]),
        // The augmentation policies' image kernels (torchvision v2 semantics), pure functions of their parameters.
        .target(name: "AugmentOps", dependencies: ["CVips", "MixCore"]),
        .target(name: "ShardFormat", dependencies: ["MixCore", "ZlibKit"]),
        .target(name: "Pipeline", dependencies: ["MixCore", "Mixup", "ShardFormat", "ZlibKit", "TOMLKit"]),
        // The shard-directory contract in one place: file naming and the shard plan, prep.json,
        // manifest.json, and the reader side (a complete directory opened and checked).
        .target(name: "ShardStore", dependencies: ["MixCore", "ShardFormat", "Pipeline"]),
        .target(name: "Prep", dependencies: ["ShardStore", "MixCore", "Datasets", "ImageCodecs", "Mixup", "ShardFormat", "Imaging", "Pipeline"]),
        .target(name: "Kernels", dependencies: ["CCPUID", "CKernels"]),
        .target(name: "NN", dependencies: ["Kernels", "MixCore"]),
        .target(name: "Training", dependencies: ["ShardStore", "NN", "Kernels", "ShardFormat", "Pipeline", "MixCore"]),
        .target(name: "Experiment", dependencies: ["ShardStore", "Prep", "Training", "Pipeline", "Imaging", "ImageCodecs", "MixCore", "TOMLKit"]),
        // The seeded mutation fuzzer of every decoder (README, "Bad input").
        .target(name: "Fuzzing", dependencies: ["CFuzzGuard", "MixCore", "ZlibKit", "Imaging", "ImageCodecs", "Datasets", "ShardFormat",
                                                "Pipeline", "ShardStore", "Prep", "Training", "Experiment"]),

        // Thin command-line front ends.
        .executableTarget(name: "mixprep", dependencies: [
            "ShardStore", "Prep", "Pipeline", "MixCore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "mixtrain", dependencies: [
            "ShardStore", "Training", "Experiment", "Pipeline", "MixCore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "mixfuzz", dependencies: [
            "Fuzzing", "MixCore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Shared by the end-to-end tests: package paths and running built executables.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        // Hostile but self-consistent shards (fields edited, CRCs recomputed) for the reader and CLI tests.
        .target(name: "ShardTestSupport", dependencies: ["ZlibKit"], path: "Tests/ShardTestSupport"),
        .target(name: "OpsTestSupport", dependencies: ["AugmentOps", "MixCore"], path: "Tests/OpsTestSupport"),
        .testTarget(name: "MixCoreTests", dependencies: ["MixCore", "TestSupport"]),
        .testTarget(name: "ZlibKitTests", dependencies: ["ZlibKit"]),
        .testTarget(name: "ImageCodecsTests", dependencies: ["ImageCodecs", "Imaging", "MixCore"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "ImageCodecs"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "ZlibKit", "Imaging", "ImageCodecs", "MixCore"], resources: [.copy("Fixtures")]),
        .testTarget(name: "MixupTests", dependencies: ["Mixup", "MixCore"]),
        .testTarget(name: "AugmentOpsTests", dependencies: ["AugmentOps", "MixCore", "ZlibKit", "OpsTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "ShardFormatTests", dependencies: ["ShardFormat", "MixCore", "ZlibKit", "ShardTestSupport"],
                    resources: [.copy("Golden")]),
        .testTarget(name: "PrepTests", dependencies: ["ShardStore", "TestSupport", "ShardTestSupport", "OpsTestSupport", "AugmentOps", "Prep", "Pipeline", "ShardFormat", "MixCore", "Datasets", "Imaging", "ImageCodecs",
                                                "Experiment"]),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels", "TestSupport"]),
        .testTarget(name: "NNTests", dependencies: ["NN", "Kernels", "MixCore", "TestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "TrainingTests", dependencies: ["ShardStore", "TestSupport", "ShardTestSupport", "Training", "NN", "Kernels", "ShardFormat", "Prep", "Pipeline", "Mixup", "MixCore"],
                    resources: [.copy("Golden")]),
        .testTarget(name: "FuzzTests", dependencies: ["TestSupport", "Fuzzing", "ShardFormat", "MixCore"]),
        .testTarget(name: "ExperimentTests", dependencies: ["ShardStore", "TestSupport", "Experiment", "Training", "Prep", "Pipeline", "MixCore"]),
    ]
)
