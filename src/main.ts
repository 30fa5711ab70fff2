import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';
import { registerOffline } from './lib/offline/register';

mount(App, { target: document.getElementById('app')! });
void registerOffline(); // production builds only: precache the app for offline use
