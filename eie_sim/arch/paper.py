"""Values printed in the EIE paper (Han et al., ISCA 2016) that reports compare with.

PAPER VALUES only: nothing here is measured, fitted or used by the model itself. The
Table III layer specifications (sizes and densities) are paper values too:
:data:`TABLE3` (below).
"""
from __future__ import annotations

from typing import Any

#: Table IV, EIE rows: theoretical time per layer (microseconds, batch 1, 64 PEs, 800 MHz)
TABLE4_THEORETICAL_US: dict[str, float] = {
    "Alex-6": 28.1, "Alex-7": 11.7, "Alex-8": 8.9, "VGG-6": 28.1, "VGG-7": 7.9,
    "VGG-8": 7.3, "NT-We": 5.2, "NT-Wd": 13.0, "NT-LSTM": 6.5}

#: Table IV, EIE rows: actual time per layer (microseconds, batch 1, 64 PEs, 800 MHz)
TABLE4_ACTUAL_US: dict[str, float] = {
    "Alex-6": 30.3, "Alex-7": 12.2, "Alex-8": 9.9, "VGG-6": 34.4, "VGG-7": 8.7,
    "VGG-8": 8.4, "NT-We": 8.0, "NT-Wd": 13.9, "NT-LSTM": 7.5}

#: Table III of the paper: size = inputs x outputs, densities as fractions. Paper values.
TABLE3: dict[str, dict[str, Any]] = {
    "Alex-6": {"inputs": 9216, "outputs": 4096, "weight_density": 0.09, "act_density": 0.351},
    "Alex-7": {"inputs": 4096, "outputs": 4096, "weight_density": 0.09, "act_density": 0.353},
    "Alex-8": {"inputs": 4096, "outputs": 1000, "weight_density": 0.25, "act_density": 0.375},
    "VGG-6": {"inputs": 25088, "outputs": 4096, "weight_density": 0.04, "act_density": 0.183},
    "VGG-7": {"inputs": 4096, "outputs": 4096, "weight_density": 0.04, "act_density": 0.375},
    "VGG-8": {"inputs": 4096, "outputs": 1000, "weight_density": 0.23, "act_density": 0.411},
    "NT-We": {"inputs": 4096, "outputs": 600, "weight_density": 0.10, "act_density": 1.0},
    "NT-Wd": {"inputs": 600, "outputs": 8791, "weight_density": 0.11, "act_density": 1.0},
    "NT-LSTM": {"inputs": 1201, "outputs": 2400, "weight_density": 0.10, "act_density": 1.0},
}


#: Table II: one PE at 45 nm, 800 MHz: power (mW) and its share (%) by unit. Paper values.
TABLE2_UNIT_POWER_MW: dict[str, float] = {
    "act_queue": 0.112, "ptr_read": 1.807, "spmat_read": 4.955, "arithm_unit": 1.162,
    "act_rw": 1.122}
TABLE2_UNIT_POWER_SHARE: dict[str, float] = {
    "act_queue": 0.0123, "ptr_read": 0.1973, "spmat_read": 0.5411, "arithm_unit": 0.1268,
    "act_rw": 0.1225}
#: Table II: area of one PE by unit (um^2), total 638,024 with 23,961 of filler. Paper values.
TABLE2_UNIT_AREA_UM2: dict[str, float] = {
    "act_queue": 758, "ptr_read": 121_849, "spmat_read": 469_412, "arithm_unit": 3_110,
    "act_rw": 18_934, "filler": 23_961}
#: the chip (sec. VI, Table V): 64 PEs at 45 nm. Paper values (0.58 and 0.6 W also appear).
CHIP_POWER_W = 0.59
CHIP_AREA_MM2 = 40.8

#: Table IV, the other platforms' rows: time per layer (microseconds, batch 1). CPU = Core
#: i7-5930K (MKL), GPU = Titan X (cuBLAS / cuSPARSE), mGPU = Tegra K1. Paper values.
TABLE4_PLATFORM_US: dict[str, dict[str, float]] = {
    "cpu_dense": {"Alex-6": 7516.2, "Alex-7": 6187.1, "Alex-8": 1134.9, "VGG-6": 35022.8,
                  "VGG-7": 5372.8, "VGG-8": 774.2, "NT-We": 605.0, "NT-Wd": 1361.4, "NT-LSTM": 470.5},
    "cpu_sparse": {"Alex-6": 3066.5, "Alex-7": 1282.1, "Alex-8": 890.5, "VGG-6": 3774.3,
                   "VGG-7": 545.1, "VGG-8": 777.3, "NT-We": 261.2, "NT-Wd": 437.4, "NT-LSTM": 260.0},
    "gpu_dense": {"Alex-6": 541.5, "Alex-7": 243.0, "Alex-8": 80.5, "VGG-6": 1467.8,
                  "VGG-7": 243.0, "VGG-8": 80.5, "NT-We": 65.0, "NT-Wd": 90.1, "NT-LSTM": 51.9},
    "gpu_sparse": {"Alex-6": 134.8, "Alex-7": 65.8, "Alex-8": 54.6, "VGG-6": 167.0,
                   "VGG-7": 39.8, "VGG-8": 48.0, "NT-We": 17.7, "NT-Wd": 41.1, "NT-LSTM": 18.5},
    "mgpu_dense": {"Alex-6": 12437.2, "Alex-7": 5765.0, "Alex-8": 2252.1, "VGG-6": 35427.0,
                   "VGG-7": 5544.3, "VGG-8": 2243.1, "NT-We": 1316.0, "NT-Wd": 2565.5, "NT-LSTM": 956.9},
    "mgpu_sparse": {"Alex-6": 2879.3, "Alex-7": 1256.5, "Alex-8": 837.0, "VGG-6": 4377.2,
                    "VGG-7": 626.3, "VGG-8": 745.1, "NT-We": 240.6, "NT-Wd": 570.6, "NT-LSTM": 315.0},
}

#: Fig. 6: speedup of EIE over CPU dense per layer (batch 1), geometric mean 189. Paper values.
FIG6_SPEEDUP_OVER_CPU_DENSE: dict[str, float] = {
    "Alex-6": 248, "Alex-7": 507, "Alex-8": 115, "VGG-6": 1018, "VGG-7": 618, "VGG-8": 92,
    "NT-We": 63, "NT-Wd": 98, "NT-LSTM": 60}
#: Fig. 7: energy efficiency of EIE over CPU dense per layer (batch 1), geometric mean
#: 24,207. Paper values.
FIG7_ENERGY_EFF_OVER_CPU_DENSE: dict[str, float] = {
    "Alex-6": 34_522, "Alex-7": 61_533, "Alex-8": 14_826, "VGG-6": 119_797, "VGG-7": 76_784,
    "VGG-8": 11_828, "NT-We": 9_485, "NT-Wd": 10_904, "NT-LSTM": 8_053}
#: Fig. 6/7 geometric means over the nine layers (batch 1). Paper values.
FIG6_GEOMEAN_SPEEDUP = {"cpu": 189, "gpu": 13, "mgpu": 307}
FIG7_GEOMEAN_ENERGY_EFF = {"cpu": 24_000, "gpu": 3_400, "mgpu": 2_700}
#: platform power measured for Deep Compression's benchmarks (W, batch 1, dense / sparse),
#: ranges as printed; Table V's single figures: Core i7 73, Titan X 159, Tegra K1 5.1.
PLATFORM_POWER_W: dict[str, dict[str, tuple[float, float]]] = {
    "core_i7": {"dense": (70.6, 83.5), "sparse": (36.0, 42.3)},
    "titan_x": {"dense": (157.0, 166.0), "sparse": (162.0, 189.0)},
    "tegra_k1": {"dense": (5.1, 5.4), "sparse": (5.6, 6.3)},
}

#: Table V: AlexNet FC7 (Table III layer Alex-7), the EIE columns and the other platforms.
#: Paper values ("-" in the paper: None).
TABLE5: dict[str, dict[str, Any]] = {
    "Core i7": {"tech_nm": 22, "clock_mhz": 3500, "area_mm2": 356, "power_w": 73,
                "frames_per_s": 162, "frames_per_s_mm2": 0.46, "frames_per_j": 2.22},
    "Titan X": {"tech_nm": 28, "clock_mhz": 1075, "area_mm2": 601, "power_w": 159,
                "frames_per_s": 4115, "frames_per_s_mm2": 6.85, "frames_per_j": 25.9},
    "Tegra K1": {"tech_nm": 28, "clock_mhz": 852, "area_mm2": None, "power_w": 5.1,
                 "frames_per_s": 173, "frames_per_s_mm2": None, "frames_per_j": 33.9},
    "EIE 64 PE": {"tech_nm": 45, "clock_mhz": 800, "area_mm2": 40.8, "power_w": 0.59,
                  "frames_per_s": 81_967, "frames_per_s_mm2": 2_009, "frames_per_j": 138_927},
    "EIE 256 PE": {"tech_nm": 28, "clock_mhz": 1200, "area_mm2": 63.8, "power_w": 2.36,
                   "frames_per_s": 426_230, "frames_per_s_mm2": 6_681, "frames_per_j": 180_606},
}

#: Fig. 9 (text only): total energy is lowest at a 64-bit Spmat SRAM width. Paper value.
FIG9_PAPER_BEST_WIDTH_BITS = 64
