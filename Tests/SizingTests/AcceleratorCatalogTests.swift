import Testing
@testable import Sizing

@Suite struct AcceleratorCatalogTests {
    let catalog = AcceleratorCatalog.builtIn
    let mebibyte = 1 << 20
    let gibibyte = 1 << 30

    @Test func listsEveryRequiredAccelerator() {
        let required = [
            "nvidia-a100-40gb", "nvidia-a100-80gb", "nvidia-l4", "nvidia-l40s", "nvidia-h100", "nvidia-h200",
            "nvidia-b200", "amd-mi300x", "amd-mi325x", "google-tpu-v5e", "google-tpu-v6e", "intel-gaudi3",
        ]
        for name in required {
            #expect(catalog.accelerator(named: name)?.name == name, "missing \(name)")
        }
        #expect(Set(catalog.accelerators.map(\.name)).count == catalog.accelerators.count)
    }

    @Test func namesAndAliasesNeverCollide() {
        var seen: [String: String] = [:]
        for entry in catalog.accelerators {
            for key in [entry.name] + entry.aliases {
                #expect(key == key.lowercased(), "\(key) must be lower-case to match")
                #expect(seen[key] == nil, "\(key) names both \(seen[key] ?? "") and \(entry.name)")
                seen[key] = entry.name
            }
        }
        let labels = catalog.accelerators.flatMap { $0.nodeLabels.map { "\($0.key)=\($0.value)" } }
        #expect(Set(labels).count == labels.count, "a node label must identify one entry")
    }

    @Test func memoryIsWhatTheDriverReports() {
        // API.md: an H200 shows 143,771 MiB in nvidia-smi (measured), an H100 SXM 81,559 MiB.
        #expect(catalog.accelerator(named: "nvidia-h200")?.memoryBytes == 143_771 * mebibyte)
        #expect(catalog.accelerator(named: "nvidia-h100")?.memoryBytes == 81_559 * mebibyte)
        #expect(catalog.accelerator(named: "nvidia-l4")?.memoryBytes == 23_034 * mebibyte)
        #expect(catalog.accelerator(named: "nvidia-a100-80gb")?.memoryBytes == 81_920 * mebibyte)
        #expect(catalog.accelerator(named: "google-tpu-v5e")?.memoryBytes == 16 * gibibyte)
        for entry in catalog.accelerators {
            #expect(!entry.memorySource.isEmpty)
            #expect(entry.memoryBandwidthBytesPerSecond > 1e11 && entry.denseBF16FLOPS > 1e13)
            #expect(entry.devicesPerNode >= 1)
        }
    }

    @Test func memoryUtilisationDefaultsTo090And095OnLargeParts() {
        // API.md: 0.90 by default, 0.95 on 141 GiB-class parts (and larger).
        let large = ["nvidia-h200", "nvidia-b200", "amd-mi300x", "amd-mi325x"]
        for entry in catalog.accelerators {
            let expected = large.contains(entry.name) ? 0.95 : 0.90
            #expect(entry.defaultGPUMemoryUtilization == expected, "\(entry.name)")
            #expect(large.contains(entry.name) == (entry.memoryBytes >= 140 * gibibyte), "\(entry.name)")
        }
    }

    @Test func resourceNamesAndTaintsFollowTheVendor() {
        for entry in catalog.accelerators {
            switch entry.vendor {
            case .nvidia:
                #expect(entry.resourceName == "nvidia.com/gpu")
                #expect(entry.taint == Accelerator.Taint(key: "nvidia.com/gpu", value: "present", effect: "NoSchedule"))
            case .amd:
                #expect(entry.resourceName == "amd.com/gpu")
                #expect(entry.taint?.key == "amd.com/gpu")
            case .google:
                #expect(entry.resourceName == "google.com/tpu")
                #expect(entry.taint == Accelerator.Taint(key: "google.com/tpu", value: "present", effect: "NoSchedule"))
            case .intel:
                #expect(entry.resourceName == "habana.ai/gaudi")
            }
        }
    }

    @Test(arguments: [
        ("nvidia-h200", "nvidia-h200"), ("NVIDIA-H200", "nvidia-h200"), ("h200", "nvidia-h200"),
        ("nvidia-h200-141gb", "nvidia-h200"), (" H100 ", "nvidia-h100"), ("nvidia-h100-80gb", "nvidia-h100"),
        ("NVIDIA-H100-80GB-HBM3", "nvidia-h100"), ("MI300X", "amd-mi300x"), ("mi325x", "amd-mi325x"),
        ("tpu-v6e-slice", "google-tpu-v6e"), ("v5e", "google-tpu-v5e"), ("Gaudi3", "intel-gaudi3"),
        ("nvidia-tesla-a100", "nvidia-a100-40gb"), ("a100-80gb", "nvidia-a100-80gb"), ("L40S", "nvidia-l40s"),
    ])
    func looksUpByNameAliasOrLabelValue(query: String, expected: String) {
        #expect(catalog.accelerator(named: query)?.name == expected)
    }

    @Test func unknownNamesFindNothing() {
        #expect(catalog.accelerator(named: "nvidia-t4") == nil)
        #expect(catalog.accelerator(named: "a100") == nil)  // 40 or 80 GB? Too vague to guess.
        #expect(catalog.accelerator(named: "  ") == nil)
    }

    @Test func infersTheAcceleratorWhenEveryGPUNodeAgrees() {
        let nodes: [[String: String]] = [
            ["kubernetes.io/hostname": "cpu-1"],  // no GPU labels: ignored
            ["nvidia.com/gpu.product": "NVIDIA-H200", "nvidia.com/gpu.count": "8"],
            ["cloud.google.com/gke-accelerator": "nvidia-h200-141gb"],
            ["nvidia.com/gpu.product": "NVIDIA-H200", "cloud.google.com/gke-accelerator": "nvidia-h200-141gb"],
        ]
        #expect(catalog.inferAccelerator(fromNodeLabels: nodes) == .identified(catalog.accelerator(named: "h200")!))
    }

    @Test func infersTPUAndAMDNodes() {
        let tpu = [["cloud.google.com/gke-tpu-accelerator": "tpu-v6e-slice", "cloud.google.com/gke-tpu-topology": "2x4"]]
        #expect(catalog.inferAccelerator(fromNodeLabels: tpu) == .identified(catalog.accelerator(named: "v6e")!))
        let amd = [["amd.com/gpu.product-name": "AMD_Instinct_MI300X_OAM"]]
        #expect(catalog.inferAccelerator(fromNodeLabels: amd) == .identified(catalog.accelerator(named: "mi300x")!))
    }

    @Test func disagreeingNodesAreAmbiguous() {
        let nodes = [
            ["nvidia.com/gpu.product": "NVIDIA-H200"],
            ["nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"],
            ["nvidia.com/gpu.product": "NVIDIA-H200"],
        ]
        #expect(catalog.inferAccelerator(fromNodeLabels: nodes) == .ambiguous(["nvidia-h100", "nvidia-h200"]))
    }

    @Test func anUncataloguedGPUNextToAKnownOneIsAmbiguous() {
        let nodes = [["nvidia.com/gpu.product": "Tesla-T4"], ["nvidia.com/gpu.product": "NVIDIA-L4"]]
        #expect(catalog.inferAccelerator(fromNodeLabels: nodes) == .ambiguous(["nvidia-l4", "nvidia.com/gpu.product=Tesla-T4"]))
    }

    @Test func onlyUncataloguedGPUsAreUnrecognized() {
        let nodes = [["nvidia.com/gpu.product": "Tesla-T4"], ["nvidia.com/gpu.product": "Tesla-T4"]]
        #expect(catalog.inferAccelerator(fromNodeLabels: nodes) == .unrecognized(["nvidia.com/gpu.product=Tesla-T4"]))
    }

    @Test func noGPUNodesInferNothing() {
        #expect(catalog.inferAccelerator(fromNodeLabels: []) == .none)
        #expect(catalog.inferAccelerator(fromNodeLabels: [["kubernetes.io/os": "linux"]]) == .none)
    }
}
