// The package ships plain JavaScript; this is the one function lwin uses.
declare module 'wgsl-preprocessor/wgsl-preprocessor.js' {
  /** Tagged template with `#if ${cond}` / `#elif` / `#else` / `#endif` blocks evaluated on the host. */
  export function wgsl(strings: TemplateStringsArray, ...values: unknown[]): string;
}
