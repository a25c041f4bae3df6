export const CHROMIUM: string;
export const CHROMIUM_ARGS: string[];
/** `chromium` is playwright-core's BrowserType; resolves with its Browser. */
export function launchChromium<B>(chromium: {
  launch(options: { executablePath: string; args: string[] }): Promise<B>;
}): Promise<B>;
