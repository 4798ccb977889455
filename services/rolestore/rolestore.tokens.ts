export const DATABASE = Symbol('DATABASE');
export const ROLESTORE_CONFIG = Symbol('ROLESTORE_CONFIG');
export const LOGGER = Symbol('LOGGER');
