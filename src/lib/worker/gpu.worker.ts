// The one worker that owns tfjs and the GPU. It never touches the DOM.
import { LabApi, exposeLab } from './api';

exposeLab(new LabApi());
