// Apply the stored theme before the app loads, so a dark page does not flash white.
// It is a separate file because the Content-Security-Policy forbids inline scripts.
(function () {
  try {
    var theme = localStorage.getItem("theme") || "system";
    var dark = theme === "dark" || (theme === "system" && window.matchMedia("(prefers-color-scheme: dark)").matches);
    document.documentElement.classList.toggle("dark", dark);
  } catch (error) {
    // Storage can be unavailable (private mode); the app applies the theme itself later.
  }
})();
