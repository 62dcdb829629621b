/* liuhen console: legal review (法制审核). The changed decision's fields show only for 变更. */
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const outcome = document.getElementById("decide-outcome"), changed = document.getElementById("decide-changed");
  if (outcome && changed) {
    const show = () => { changed.hidden = outcome.value !== "变更"; };
    outcome.addEventListener("change", show);
    show();
  }
});
