// Offline support: in production builds the lab registers public/sw.js, which precaches the built app on the
// first visit and serves it without a network (with the isolation headers the page needs).

export interface OfflineStatus { supported: boolean; registered: boolean; problem?: string }

/**
 * Registers the service worker (production builds only; the dev server serves modules that change on every
 * edit). Never throws: a browser without service workers, or one that refuses them (private mode), still runs
 * the lab online, and the problem is returned and logged as a warning.
 */
export async function registerOffline(): Promise<OfflineStatus> {
  if (!import.meta.env.PROD) return { supported: false, registered: false, problem: 'development build' };
  if (typeof navigator === 'undefined' || !('serviceWorker' in navigator)) {
    return { supported: false, registered: false, problem: 'This browser has no service workers; the lab works online only.' };
  }
  try {
    // Relative to the page: the build uses base './', so the app may live in any folder.
    await navigator.serviceWorker.register(new URL('sw.js', document.baseURI).href, { scope: './' });
    return { supported: true, registered: true };
  } catch (e) {
    const problem = `Offline mode is off: the service worker could not be registered (${(e as Error).message}).`;
    console.warn(problem);
    return { supported: true, registered: false, problem };
  }
}
