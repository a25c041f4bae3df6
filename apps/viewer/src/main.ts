// Entry point: styles (bundled into a CSS file: the server's CSP allows no inline styles), token, app.
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { takeToken } from './api';
import { App } from './app';

const root = document.getElementById('app');
if (root) void new App(root, takeToken()).render();
