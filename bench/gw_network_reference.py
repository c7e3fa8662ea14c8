#!/usr/bin/env python3
"""Reference whitened strain of a three-detector network with per-detector noise curves, for
tests/gw.rs: H1 and L1 with bilby's aLIGO O4 high-sensitivity ASD, V1 with its Advanced Virgo
ASD, whitened as ndelab and VItamin do (sqrt(2N) irfft(h / ASD)).

    bench/.venv/bin/python bench/gw_network_reference.py tests/data

Writes tests/data/network_whitened_IMRPhenomD.csv (one column per detector) with bilby's
optimal SNR of each detector in its header.
"""
import sys
import warnings
from pathlib import Path

import numpy as np
import bilby

warnings.filterwarnings("ignore")
bilby.core.utils.logger.setLevel("ERROR")
out = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data")
fs, T = 512.0, 1.0
N = int(fs * T)
tref = 1126259642.5
start = tref - T / 2
inj = dict(mass_1=50.0, mass_2=40.0, a_1=0.0, a_2=0.0, tilt_1=0.0, tilt_2=0.0, phi_12=0.0, phi_jl=0.0,
           luminosity_distance=2000.0, theta_jn=0.5, psi=0.3, phase=1.1, geocent_time=tref + 0.25, ra=1.375, dec=-1.2108)
curves = {"H1": "aLIGO_O4_high_asd.txt", "L1": "aLIGO_O4_high_asd.txt", "V1": "AdV_asd.txt"}
wfg = bilby.gw.WaveformGenerator(
    duration=T, sampling_frequency=fs, start_time=start,
    frequency_domain_source_model=bilby.gw.source.lal_binary_black_hole,
    parameter_conversion=bilby.gw.conversion.convert_to_lal_binary_black_hole_parameters,
    waveform_arguments=dict(waveform_approximant="IMRPhenomD", reference_frequency=20.0, minimum_frequency=20.0))
ifos = bilby.gw.detector.InterferometerList(list(curves))
for ifo in ifos:
    ifo.power_spectral_density = bilby.gw.detector.PowerSpectralDensity(asd_file=curves[ifo.name])
    ifo.minimum_frequency = 20.0
    ifo.maximum_frequency = fs / 2
bilby.core.utils.random.seed(1)
ifos.set_strain_data_from_power_spectral_densities(sampling_frequency=fs, duration=T, start_time=start)
pol = wfg.frequency_domain_strain(inj)
columns, snrs = [], []
for ifo in ifos:
    h = ifo.get_detector_response(pol, inj)
    asd = ifo.amplitude_spectral_density_array
    columns.append(np.sqrt(2 * N) * np.fft.irfft(np.nan_to_num(h / asd)))
    snrs.append(np.sqrt(ifo.optimal_snr_squared(h).real))
header = "H1,L1,V1 whitened sqrt(2N)*irfft(h/ASD); fs=512 T=1; optimal SNR " + " ".join(f"{s:.9f}" for s in snrs)
np.savetxt(out / "network_whitened_IMRPhenomD.csv", np.array(columns).T, delimiter=",", header=header)
print(f"bilby {bilby.__version__}: optimal SNRs {snrs}")
