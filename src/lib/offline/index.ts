// Offline support (service worker registration; the worker itself is public/sw.js).
export { registerOffline, type OfflineStatus } from './register'; // registers sw.js in production builds
