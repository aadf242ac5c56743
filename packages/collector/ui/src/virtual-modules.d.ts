/** Made by ui/docs-page.ts at build time: the ids of the troubleshooting page's sections. */
declare module 'virtual:troubleshooting-anchors' {
  const anchors: string[];
  export default anchors;
}
