#!/usr/bin/env python3
"""Reference data for `gw_network` (tests/gw_network.rs): an H1, L1 (aLIGO O4 high) and V1
(AdV) network, 4 s at 512 Hz, IMRPhenomXAS with aligned spins, the data between 20 and 256 Hz.
Draws an injection from bilby's aligned-spin BBH prior file, makes noisy data, and writes

  tests/data/network_injection.csv   the whitened data x = 2/sqrt(T) d/ASD per detector (real
                                     parts, then imaginary parts, 20..256 Hz) and the signal's
  tests/data/network_likelihood.csv  40 parameter points (the injection and prior draws near
                                     it) with bilby's GravitationalWaveTransient log-likelihood

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

wfg = bilby.gw.WaveformGenerator(
    duration=T, sampling_frequency=fs, start_time=start,
    frequency_domain_source_model=bilby.gw.source.lal_binary_black_hole,
    parameter_conversion=bilby.gw.conversion.convert_to_lal_binary_black_hole_parameters,
    waveform_arguments=dict(waveform_approximant="IMRPhenomXAS", reference_frequency=20.0, minimum_frequency=20.0))
ifos = bilby.gw.detector.InterferometerList(list(curves))
for ifo in ifos:
    ifo.power_spectral_density = bilby.gw.detector.PowerSpectralDensity(asd_file=curves[ifo.name])
    ifo.minimum_frequency, ifo.maximum_frequency = 20.0, fs / 2
bilby.core.utils.random.seed(3)
ifos.set_strain_data_from_power_spectral_densities(sampling_frequency=fs, duration=T, start_time=start)
prior = bilby.gw.prior.BBHPriorDict(str(Path(bilby.gw.prior.__file__).parent / "prior_files" / "aligned_spins_bbh.prior"))
prior["geocent_time"] = bilby.core.prior.Uniform(tref - 0.1, tref + 0.1)
prior["chirp_mass"] = bilby.gw.prior.UniformInComponentsChirpMass(minimum=25, maximum=40)
prior["luminosity_distance"] = bilby.gw.prior.UniformSourceFrame(minimum=300, maximum=1000, name="luminosity_distance")
inj = {k: float(v) for k, v in prior.sample().items() if k in ORDER}
ifos.inject_signal(waveform_generator=wfg, parameters=inj)
mask = (ifos[0].frequency_array >= 20.0) & (ifos[0].frequency_array <= fs / 2)
cols, snrs = [], []
for ifo in ifos:
    x = 2 / np.sqrt(T) * ifo.frequency_domain_strain[mask] / ifo.amplitude_spectral_density_array[mask]
    cols += [x.real, x.imag]
    snrs.append(ifo.meta_data["optimal_SNR"])
header = ("whitened data per detector H1,L1,V1 (real, imaginary; 20..256 Hz); injection "
          + " ".join(f"{k}={inj[k] - (tref if k == 'geocent_time' else 0):.12g}" for k in ORDER)
          + "; optimal SNR " + " ".join(f"{s:.9f}" for s in snrs))
np.savetxt(out / "network_injection.csv", np.concatenate(cols)[:, None], header=header)
like = bilby.gw.likelihood.GravitationalWaveTransient(ifos, wfg)
rng = np.random.default_rng(4)
points = [dict(inj)]
for _ in range(39):
    p = dict(inj)
    for k in ORDER:
        width = {"chirp_mass": 0.05, "mass_ratio": 0.03, "chi_1": 0.05, "chi_2": 0.05, "luminosity_distance": 30,
                 "dec": 0.02, "ra": 0.02, "theta_jn": 0.05, "psi": 0.05, "phase": 0.1, "geocent_time": 0.0003}[k]
        p[k] = inj[k] + width * rng.normal()
    p["mass_ratio"] = min(p["mass_ratio"], 1.0)
    p["chi_1"], p["chi_2"] = np.clip([p["chi_1"], p["chi_2"]], -0.98, 0.98)
    points.append(p)
with open(out / "network_likelihood.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(ORDER + ["log_likelihood"])
    for p in points:
        like.parameters.update(p)
        w.writerow([repr(float(p[k]) - (tref if k == "geocent_time" else 0.0)) for k in ORDER] + [repr(float(like.log_likelihood()))])
print(f"bilby {bilby.__version__}: network SNRs {snrs}; 40 likelihood points")
