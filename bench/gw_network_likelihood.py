#!/usr/bin/env python3
"""Reference data for `gw_network` (tests/gw_network.rs): an H1, L1 (aLIGO O4 high) and V1
(AdV) network, 4 s at 512 Hz, IMRPhenomXAS with aligned spins, the data between 20 and 256 Hz.
Draws 10 injections from bilby's aligned-spin BBH prior file (chirp mass 25-40, distance
300-1000 Mpc), makes noisy data for each, and writes

  tests/data/network_injections.csv  each injection's parameters (geocent_time relative to the
                                     reference time) and each detector's optimal SNR
  tests/data/network_signal.npy      float32 (10, 5670): bilby's whitened signal
                                     x = 2/sqrt(T) h/ASD per detector (real parts, then
                                     imaginary parts, 20..256 Hz)
  tests/data/network_data.npy        float64 (10, 5670): the whitened noisy data, same layout
  tests/data/network_likelihood.csv  100 parameter points (each injection and 9 points near it inside
                                     the mass constraint)
                                     with bilby's GravitationalWaveTransient log-likelihood

    bench/.venv/bin/python bench/gw_network_likelihood.py tests/data
"""
import csv
import sys
import warnings
from pathlib import Path

import numpy as np
import bilby

warnings.filterwarnings("ignore")
bilby.core.utils.logger.setLevel("ERROR")
out = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data")
fs, T, post, tref = 512.0, 4.0, 2.0, 1126259642.413
start = tref + post - T
curves = {"H1": "aLIGO_O4_high_asd.txt", "L1": "aLIGO_O4_high_asd.txt", "V1": "AdV_asd.txt"}
ORDER = ["chirp_mass", "mass_ratio", "chi_1", "chi_2", "luminosity_distance", "dec", "ra", "theta_jn", "psi", "phase", "geocent_time"]
WIDTH = {"chirp_mass": 0.05, "mass_ratio": 0.03, "chi_1": 0.05, "chi_2": 0.05, "luminosity_distance": 30,
         "dec": 0.02, "ra": 0.02, "theta_jn": 0.05, "psi": 0.05, "phase": 0.1, "geocent_time": 0.0003}

wfg = bilby.gw.WaveformGenerator(
    duration=T, sampling_frequency=fs, start_time=start,
    frequency_domain_source_model=bilby.gw.source.lal_binary_black_hole,
    parameter_conversion=bilby.gw.conversion.convert_to_lal_binary_black_hole_parameters,
    waveform_arguments=dict(waveform_approximant="IMRPhenomXAS", reference_frequency=20.0, minimum_frequency=20.0))
prior = bilby.gw.prior.BBHPriorDict(str(Path(bilby.gw.prior.__file__).parent / "prior_files" / "aligned_spins_bbh.prior"))
prior["geocent_time"] = bilby.core.prior.Uniform(tref - 0.1, tref + 0.1)
prior["chirp_mass"] = bilby.gw.prior.UniformInComponentsChirpMass(minimum=25, maximum=40)
prior["luminosity_distance"] = bilby.gw.prior.UniformSourceFrame(minimum=300, maximum=1000, name="luminosity_distance")
bilby.core.utils.random.seed(3)
rng = np.random.default_rng(4)
rel = lambda k, v: float(v) - (tref if k == "geocent_time" else 0.0)
rows, signals, datas, points = [], [], [], []
for j in range(10):
    ifos = bilby.gw.detector.InterferometerList(list(curves))
    for ifo in ifos:
        ifo.power_spectral_density = bilby.gw.detector.PowerSpectralDensity(asd_file=curves[ifo.name])
        ifo.minimum_frequency, ifo.maximum_frequency = 20.0, fs / 2
    ifos.set_strain_data_from_power_spectral_densities(sampling_frequency=fs, duration=T, start_time=start)
    inj = {k: float(v) for k, v in prior.sample().items() if k in ORDER}
    ifos.inject_signal(waveform_generator=wfg, parameters=inj)
    mask = (ifos[0].frequency_array >= 20.0) & (ifos[0].frequency_array <= fs / 2)
    pols = wfg.frequency_domain_strain(inj)
    d_cols, h_cols, snrs = [], [], []
    for ifo in ifos:
        asd = ifo.amplitude_spectral_density_array[mask]
        x = 2 / np.sqrt(T) * ifo.frequency_domain_strain[mask] / asd
        h = 2 / np.sqrt(T) * ifo.get_detector_response(pols, inj)[mask] / asd
        d_cols += [x.real, x.imag]
        h_cols += [h.real, h.imag]
        snrs.append(ifo.meta_data["optimal_SNR"])
    datas.append(np.concatenate(d_cols))
    signals.append(np.concatenate(h_cols))
    rows.append([rel(k, inj[k]) for k in ORDER] + snrs)
    like = bilby.gw.likelihood.GravitationalWaveTransient(ifos, wfg)
    for i in range(10):
        p = dict(inj)
        while i > 0:  # a point near the injection inside the prior's mass constraint
            for k in ORDER:
                p[k] = inj[k] + WIDTH[k] * rng.normal()
            p["mass_ratio"] = min(p["mass_ratio"], 1.0)
            p["chi_1"], p["chi_2"] = np.clip([p["chi_1"], p["chi_2"]], -0.98, 0.98)
            m1, m2 = bilby.gw.conversion.chirp_mass_and_mass_ratio_to_component_masses(p["chirp_mass"], p["mass_ratio"])
            if 5 <= m2 and m1 <= 100:
                break
        like.parameters.update(p)
        points.append([j] + [rel(k, p[k]) for k in ORDER] + [float(like.log_likelihood())])

with open(out / "network_injections.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(ORDER + ["snr_H1", "snr_L1", "snr_V1"])
    w.writerows([[repr(float(v)) for v in r] for r in rows])
np.save(out / "network_signal.npy", np.array(signals, dtype=np.float32))
np.save(out / "network_data.npy", np.array(datas, dtype=np.float64))
with open(out / "network_likelihood.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["injection"] + ORDER + ["log_likelihood"])
    w.writerows([[p[0]] + [repr(float(v)) for v in p[1:]] for p in points])
print(f"bilby {bilby.__version__}: 10 injections, network SNRs "
      + " ".join(f"{np.sqrt(sum(s * s for s in r[-3:])):.2f}" for r in rows) + "; 100 likelihood points")
