// Page-side state of the worker connection: which backend runs, what the device is, and any problem.
import { getLab } from '../worker/client';
import type { BackendName, DeviceInfo } from '../engine/backend';

export const labState = $state({
  status: 'idle' as 'idle' | 'starting' | 'ready' | 'needs-choice' | 'error',
  backend: null as BackendName | null,
  device: null as DeviceInfo | null,
  problem: '' as string,
});

/** Starts WebGPU if the device has it; otherwise stops and asks the user (never a silent fallback). */
export async function startLab(preferred?: BackendName): Promise<void> {
  const lab = getLab();
  labState.status = 'starting';
  labState.problem = '';
  try {
    const device = await lab.deviceInfo();
    labState.device = device;
    const want: BackendName = preferred ?? 'webgpu';
    if (want === 'webgpu' && !device.webgpuAvailable) {
      labState.problem = device.webgpuProblem ?? 'WebGPU is not available here.';
      labState.status = 'needs-choice';
      return;
    }
    labState.device = await lab.init(want);
    labState.backend = want;
    labState.status = 'ready';
  } catch (e) {
    labState.problem = (e as Error).message;
    labState.status = preferred === 'wasm' ? 'error' : 'needs-choice';
  }
}
