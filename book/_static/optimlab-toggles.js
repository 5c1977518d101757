/* optimlab：让页首看得见的侧栏按钮起作用（每一页都加载，见 book/_ext/optimlab_site.py）。
 *
 * pydata-sphinx-theme 与 sphinx-book-theme 都只给页面上“第一个” .primary-toggle / .secondary-toggle 装点击处理
 * （document.querySelector）。本站第一个是 pydata 导航栏里的按钮，sphinx-book-theme 把它藏起来了；读者看得见的是
 * 文章页首那一个，点了什么也不发生，手机上打不开目录。这里把对其余同类按钮的点击转给第一个。
 */
"use strict";

for (const selector of [".primary-toggle", ".secondary-toggle"]) {
  const [first, ...others] = document.querySelectorAll(selector);
  for (const button of others) {
    button.addEventListener("click", (event) => {
      event.preventDefault();
      event.stopPropagation();
      first.click();
    });
  }
}
