// How a service's lifetime is tied to the process that started it.
export { readStopWithParent, STOP_WITH_PARENT_VARIABLE, stopWithParent } from './parent-leash';
