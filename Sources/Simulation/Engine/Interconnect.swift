import Sizing

/// Device-to-device bandwidth that tensor-parallel all-reduces use, per accelerator: one
/// direction, per device, peak. The ``Sizing/Accelerator`` catalog has no such field, so the
/// figures live here, keyed by catalog name.
public enum Interconnect {
    /// Peak one-direction bytes per second a device of this kind can send to its peers.
    public static func bytesPerSecond(for accelerator: Accelerator) -> Double {
        let name = accelerator.name
        if name.hasPrefix("nvidia-a100") { return 300e9 }  // NVIDIA A100 datasheet: NVLink 3, 600 GB/s bidirectional
        if name.hasPrefix("nvidia-h100") || name.hasPrefix("nvidia-h200") { return 450e9 }  // NVIDIA H100/H200 datasheets: NVLink 4, 900 GB/s bidirectional
        if name.hasPrefix("nvidia-b200") { return 900e9 }  // NVIDIA HGX B200 datasheet: NVLink 5, 1.8 TB/s bidirectional
        if name.hasPrefix("amd-mi3") { return 448e9 }  // AMD MI300X datasheet: 896 GB/s aggregate Infinity Fabric peer bandwidth (from memory)
        if name == "google-tpu-v5e" { return 100e9 }  // Cloud TPU v5e docs: 1,600 Gbps ICI per chip (from memory)
        if name == "google-tpu-v6e" { return 200e9 }  // Cloud TPU v6e docs: 3,200 Gbps ICI per chip (from memory)
        if name == "intel-gaudi3" { return 300e9 }  // Intel Gaudi 3 datasheet: 24 × 200 GbE RoCE = 600 GB/s bidirectional (from memory)
        return 32e9  // PCIe Gen4 x16: 64 GB/s bidirectional (L4, L40S and anything unknown)
    }
}
