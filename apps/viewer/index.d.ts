/** Absolute path of the built viewer (`apps/viewer/dist`): index.html and assets/. */
export declare const viewerDir: string;
